"""``GET`` and ``PUT /settings/retention``: an org's admins read and change its retention policy.

A change is recorded as a SYSTEM_EVENT entry (before and after) through the ingest path's own
rules, written in one transaction with the policy: the log never shows a change that did not
happen, and no change happens unlogged. New entries get the new expiry at once (each
container re-reads the policy within ``policy_seconds``); entries and archive objects that
exist already are brought in line by the ``restamp`` job, whose progress ``GET`` shows.

A change answers, under ``existing``, the restamp's progress: ``{'state': 'pending',
'entries_updated': 0, 'archive_objects_updated': 0}`` at first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activitylog.errors import BadRequest, Conflict
from activitylog.retention_policy import RetentionPolicy
from activitylog.rules import new_entry
from activitylog.scopes import ROUTE_SCOPES
from activitylog.store import backoff

if TYPE_CHECKING:
    from activitylog.inputs import RetentionChange
    from activitylog.service import ActivityService, Caller


class RetentionSettings:
    def __init__(self, service: "ActivityService") -> None:
        self.service = service

    def get(self, caller: "Caller") -> RetentionPolicy:
        caller.require(ROUTE_SCOPES["GET /settings/retention"])
        return self.service.retention(caller.org, fresh=True)

    def change(self, caller: "Caller", change: "RetentionChange", attempts: int = 4) -> RetentionPolicy:
        """Apply ``change``; the same values again change nothing and record nothing."""
        caller.require(ROUTE_SCOPES["PUT /settings/retention"])
        for attempt in range(attempts):
            current = self.service.retention(caller.org, fresh=True)
            now = self.service.clock()
            updated = current.changed(change.hot_days, change.archive_days, now, caller.subject)
            if updated.values() == current.values():
                return current
            table_days = self.service.storage(caller.org).table_days
            event = self._system_event(caller, current, updated)
            entry = new_entry(event, caller.subject, now, updated.hot_days, table_days=table_days)
            try:
                written = self.service.change_retention(caller.org, updated, entry)
            except Conflict:
                backoff(attempt)  # another admin's change landed first: decide again on theirs
                continue
            return written
        raise Conflict(
            "the retention policy keeps changing under this request; nothing was changed, retry", "retention"
        )

    @staticmethod
    def _system_event(caller: "Caller", before: RetentionPolicy, after: RetentionPolicy):
        from pydantic import ValidationError

        from activitylog.inputs import NewEntry

        moved = [
            f"{name} {before.values()[key]} → {after.values()[key]} days"
            for name, key in (("hot", "hot_days"), ("archive", "archive_days"))
            if before.values()[key] != after.values()[key]
        ]
        try:
            return NewEntry.model_validate(
                {
                    "type": "SYSTEM_EVENT",
                    "status": "SUCCESS",
                    "action": "updated",
                    "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
                    "event": "Retention policy changed · " + " · ".join(moved),
                    "entity": {"type": "setting", "id": "retention", "label": "Retention policy"},
                    "before": before.values(),
                    "after": after.values(),
                }
            )
        except ValidationError:
            raise BadRequest(
                "the token's sub cannot name the actor of the change (1-128 letters, digits or _.:@+=/-)",
                "authorization",
            ) from None
