"""``GET`` and ``PUT /settings/privacy``: an org's masked field patterns (``activitylog.masking``).

Its admins change them (``activity:admin``); its readers may see them (what the page shows as hidden).
A change is a SYSTEM_EVENT entry whose before and after are the pattern lists (never a value), written
in one transaction with the settings, as a retention change is (``retention.settings``). It applies to
entries recorded after it: at once in the container that made it, within ``policy_seconds`` in the others;
entries recorded before it keep what they hold.

>>> # PrivacySettings(service).change(caller, {"patterns": ["/ssn", "/**/password"]})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from activitylog.entry import iso_time
from activitylog.errors import BadRequest, Conflict
from activitylog.masking import DEFAULT_PATTERNS, check_patterns
from activitylog.rules import new_entry
from activitylog.scopes import ROUTE_SCOPES
from activitylog.store import backoff

if TYPE_CHECKING:
    from activitylog.service import ActivityService, Caller


class PrivacySettings:
    def __init__(self, service: "ActivityService") -> None:
        self.service = service

    def get(self, caller: "Caller") -> dict:
        caller.require(ROUTE_SCOPES["GET /settings/privacy"])
        return self._view(self.service.privacy(caller.org, fresh=True))

    def change(self, caller: "Caller", body: Any, attempts: int = 4) -> dict:
        """Set the org's own patterns (the built-in ones always apply); the same list again records nothing."""
        caller.require(ROUTE_SCOPES["PUT /settings/privacy"])
        patterns = check_patterns(body)
        for attempt in range(attempts):
            current = self.service.privacy(caller.org, fresh=True)
            before = (current or {}).get("patterns", [])
            if before == patterns:
                return self._view(current)
            now = self.service.clock()
            settings = {"patterns": patterns, "updated_at": iso_time(now), "updated_by": caller.subject}
            entry = self._system_event(caller, before, patterns, now)
            try:
                written = self.service.change_privacy(caller.org, settings, (current or {}).get("version"), entry)
            except Conflict:
                backoff(attempt)  # another admin's change landed first: decide again on theirs
                continue
            return self._view(written)
        raise Conflict("the privacy settings keep changing under this request; nothing was changed, retry", "patterns")

    @staticmethod
    def _view(settings: dict | None) -> dict:
        settings = settings or {}
        return {
            "patterns": settings.get("patterns", []),
            "defaults": list(DEFAULT_PATTERNS),
            "updated_at": settings.get("updated_at"),
            "updated_by": settings.get("updated_by"),
        }

    def _system_event(self, caller: "Caller", before: list[str], after: list[str], now):
        from pydantic import ValidationError

        from activitylog.inputs import NewEntry

        added, removed = [p for p in after if p not in before], [p for p in before if p not in after]
        said = [f"+{p}" for p in added] + [f"−{p}" for p in removed]
        try:
            document = NewEntry.model_validate(
                {
                    "type": "SYSTEM_EVENT",
                    "status": "SUCCESS",
                    "action": "updated",
                    "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
                    "event": ("Masked fields changed · " + " ".join(said))[:300] if said else "Masked fields reordered",
                    "entity": {"type": "setting", "id": "privacy", "label": "Masked fields"},
                    # a list compares whole (diff.changes): the change shows both lists
                    "before": {"patterns": before},
                    "after": {"patterns": after},
                }
            )
        except ValidationError:
            raise BadRequest(
                "the token's sub cannot name the actor of the change (1-128 letters, digits or _.:@+=/-)",
                "authorization",
            ) from None
        where = self.service.storage(caller.org)
        return new_entry(document, caller.subject, now, where.hot_days, table_days=where.table_days)
