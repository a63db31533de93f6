"""Access transparency: support's reads of an org's data are recorded in that org's own log.

Support gives a reason (``?reason=ticket 4312``); before anything is answered, a SYSTEM_EVENT is
written to the org: "Support viewed entry 01M… · reason: ticket 4312", actor the support user,
entity the entry read, the reason in its metadata. If that write fails the read fails with it
(a 503 that shows nothing): support never sees an entry the org cannot see was seen.

A retry of the same read (same support user, entry and reason) within the same minute records
nothing more: the record's id derives from those and the minute, and is written only if absent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Mapping, Optional

from activitylog import ids
from activitylog.errors import BadRequest

if TYPE_CHECKING:
    from activitylog.service import ActivityService, Caller

REASON_CHARACTERS = 200
RETRY_WINDOW_SECONDS = 60
RECORDED_BY = "svc_support"


def reason_of(parameters: Optional[Mapping[str, str]]) -> str:
    """The ``reason`` query parameter: 1-200 printable characters on one line, shown to the org as given.

    >>> reason_of({"reason": " ticket 4312 "})
    'ticket 4312'
    >>> reason_of({})
    Traceback (most recent call last):
    ...
    activitylog.errors.BadRequest: reason is required: ...
    """
    reason = ((parameters or {}).get("reason") or "").strip()
    if not reason:
        raise BadRequest(
            "reason is required: say why support reads this org's data (?reason=ticket 4312); "
            "the read is recorded in the org's log with it",
            "reason",
        )
    if len(reason) > REASON_CHARACTERS or not reason.isprintable():
        raise BadRequest(f"reason must be 1-{REASON_CHARACTERS} printable characters on one line", "reason")
    return reason


READS = {  # what support read, as the record's event says it, by route
    "GET /support/activities/{id}": "Support viewed entry",
    "GET /support/activities/{id}/proof": "Support fetched the proof of entry",
}


def record_read(
    service: "ActivityService", caller: "Caller", route: str, entry_id: str, reason: str, **metadata: str
) -> str:
    """Record in ``caller.org``'s log that ``caller`` (support) read ``entry_id`` by ``route`` for ``reason``; its id.

    Raises what the write raises (``Unavailable`` after the store's retries): the read must then not be answered.
    """
    from pydantic import ValidationError

    from activitylog.inputs import NewEntry

    now = service.clock()
    minute = datetime.fromtimestamp(int(now.timestamp()) // RETRY_WINDOW_SECONDS * RETRY_WINDOW_SECONDS, timezone.utc)
    record_id = ids.derived_id(minute, f"support-read#{caller.org}#{route}#{caller.subject}#{entry_id}#{reason}")
    try:
        new = NewEntry.model_validate(
            {
                "type": "SYSTEM_EVENT",
                "status": "SUCCESS",
                "action": "viewed",
                "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
                "event": f"{READS[route]} {entry_id} · reason: {reason}",
                "entity": {"type": "entry", "id": entry_id, "label": f"Entry {entry_id}"},
                "metadata": {"reason": reason, "route": route, **metadata},
                "occurred_at": minute.isoformat(),
            }
        )
    except ValidationError:  # the reason is checked already; only the token's sub can fail here
        raise BadRequest(
            "the token's sub cannot name the actor of the read (1-128 letters, digits or _.:@+=/-)", "authorization"
        ) from None
    service.record_once(caller.org, new, RECORDED_BY, record_id)  # None: this read's retry, recorded already
    return record_id
