"""Access transparency: support's reads of an org's data are recorded in that org's own log.

Support gives a reason (``?reason=ticket 4312``); before anything is answered, a SYSTEM_EVENT is
written to the org: "Support viewed entry 01M… · reason: ticket 4312", actor the support user,
entity the entry read, the reason in its metadata. If that write fails the read fails with it
(a 503 that shows nothing): support never sees an entry the org cannot see was seen.

The support routes always read as support. The ordinary read routes (the list, an entry, its
chain, the members) do when the token holds ``activity:support`` without ``activity:read``
(``reads_as_support``): the org's own people hold ``activity:read`` and are never asked why.

A retry of the same read (same support user, route, entry or filter, and reason) within the same
minute records nothing more: the record's id derives from those and the minute, and is written
only if absent. So paging a list, or polling it, records it once a minute.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Mapping, Optional

from activitylog import ids
from activitylog.errors import BadRequest
from activitylog.query.filters import AXES, filter_document, parse_filter_document
from activitylog.scopes import READ, SUPPORT

if TYPE_CHECKING:
    from activitylog.query.filters import ActivityFilter
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


EVENT_CHARACTERS = 300  # an entry's event (``inputs.NewEntry``); the metadata keeps the reason and filter whole


def reads_as_support(caller: "Caller") -> bool:
    """Whether an ordinary read route treats ``caller`` as support staff: ``activity:support`` without
    ``activity:read`` (a token the org's own people hold is never asked why it reads)."""
    return SUPPORT in caller.scopes and READ not in caller.scopes


def support_reason(caller: "Caller", parameters: Optional[Mapping[str, str]]) -> Optional[str]:
    """The ``reason`` a support caller must give (``reason_of``), None for anyone else (the org's own readers)."""
    return reason_of(parameters) if reads_as_support(caller) else None


READS = {  # what support read, as the record's event says it, by route
    "GET /support/activities/{id}": "Support viewed entry",
    "GET /support/activities/{id}/proof": "Support fetched the proof of entry",
    "GET /activities/{id}": "Support viewed entry",
    "GET /activities/{id}/related": "Support viewed the chain of entry",
}


def record_read(
    service: "ActivityService", caller: "Caller", route: str, entry_id: str, reason: str, **metadata: str
) -> str:
    """Record in ``caller.org``'s log that ``caller`` (support) read ``entry_id`` by ``route`` for ``reason``; its id.

    Raises what the write raises (``Unavailable`` after the store's retries): the read must then not be answered.
    """
    return record_access(
        service,
        caller,
        route,
        f"{READS[route]} {entry_id}",
        reason,
        key=entry_id,
        entity={"type": "entry", "id": entry_id, "label": f"Entry {entry_id}"},
        metadata=metadata,
    )


def record_list(service: "ActivityService", caller: "Caller", route: str, wanted: "ActivityFilter", reason: str) -> str:
    """Record that support listed ``caller.org``'s entries matching ``wanted`` (``GET /activities``, or the archive
    query): the filter in the event and in the metadata. Paging the same filter records it once a minute."""
    what = "Support queried the archive" if route == ARCHIVE_QUERY else "Support listed entries"
    document = filter_document(wanted)
    return record_access(
        service,
        caller,
        route,
        f"{what} · {describe(document)}",
        reason,
        key=wanted.digest(),
        metadata={"filter": document},
    )


def record_members(service: "ActivityService", caller: "Caller", search: str, reason: str) -> str:
    """Record that support searched ``caller.org``'s team members (``GET /members``: their names and ids)."""
    shown = f"q={search}" if search else "all"
    return record_access(
        service,
        caller,
        "GET /members",
        f"Support searched the team members · {shown}",
        reason,
        key=f"members#{search}",
        metadata={"search": search},
    )


ARCHIVE_QUERY = "POST /support/archive-queries"


def record_archive_query(
    service: "ActivityService", caller: "Caller", filters: Optional[Mapping[str, object]], reason: Optional[str]
) -> dict:
    """``POST /support/archive-queries``: record in the token's org that support queries its archive with
    ``filters`` (the list's keys and window) for ``reason``, before the query runs (``activitylog archive query``,
    which reads the buckets itself and refuses to unless this answered). ``{id, org_id}``: the record, and the org
    it was written in, which the command checks is the org it queries."""
    from activitylog.scopes import ROUTE_SCOPES

    caller.require(ROUTE_SCOPES[ARCHIVE_QUERY])
    checked = reason_of({"reason": reason} if reason is not None else None)
    wanted = parse_filter_document(filters, "filters", (*AXES, "from", "to"))
    return {"id": record_list(service, caller, ARCHIVE_QUERY, wanted, checked), "org_id": caller.org}


def describe(document: dict) -> str:
    """A filter document as one line: ``type=BACKGROUND_JOB,WEBHOOK status=FAILED from=…``.

    >>> describe({"type": ["WEBHOOK"], "user": "u_17"})
    'type=WEBHOOK user=u_17'
    >>> describe({})
    'no filter (the last 24 hours)'
    """
    parts = [
        f"{key}={','.join(value) if isinstance(value, list) else str(value).replace('+00:00', 'Z')}"
        for key, value in document.items()
    ]
    if not parts:
        return "no filter (the last 24 hours)"
    return " ".join(parts)


def record_access(
    service: "ActivityService",
    caller: "Caller",
    route: str,
    what: str,
    reason: str,
    *,
    key: str,
    entity: Optional[dict] = None,
    metadata: Optional[Mapping[str, object]] = None,
) -> str:
    """Record in ``caller.org``'s log that support (``caller``) did ``what`` by ``route`` for ``reason``; its id.

    ``key`` names what was read (an entry id, a filter's digest): the same caller, route, key and reason within
    one minute is one record. Raises what the write raises: the read must then not be answered.
    """
    from pydantic import ValidationError

    from activitylog.inputs import NewEntry

    now = service.clock()
    minute = datetime.fromtimestamp(int(now.timestamp()) // RETRY_WINDOW_SECONDS * RETRY_WINDOW_SECONDS, timezone.utc)
    record_id = ids.derived_id(minute, f"support-read#{caller.org}#{route}#{caller.subject}#{key}#{reason}")
    event = f"{what} · reason: {reason}"
    if len(event) > EVENT_CHARACTERS:
        event = event[: EVENT_CHARACTERS - 1] + "…"
    try:
        new = NewEntry.model_validate(
            {
                "type": "SYSTEM_EVENT",
                "status": "SUCCESS",
                "action": "viewed",
                "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
                "event": event,
                "entity": entity,
                "metadata": {"reason": reason, "route": route, **(metadata or {})},
                "occurred_at": minute.isoformat(),
            }
        )
    except ValidationError:  # the reason is checked already; only the token's sub can fail here
        raise BadRequest(
            "the token's sub cannot name the actor of the read (1-128 letters, digits or _.:@+=/-)", "authorization"
        ) from None
    service.record_once(caller.org, new, RECORDED_BY, record_id)  # None: this read's retry, recorded already
    return record_id
