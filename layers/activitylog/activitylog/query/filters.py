"""The five filter axes of the Activity Logs page, parsed from a request.

Type and status are multi-selects (repeat the parameter or comma-separate: API Gateway
joins repeats with commas). User, entity type (and one entity record) and a date range
default to the last 24 hours. Every bad value is a ``BadRequest`` naming its parameter.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping, Optional

from activitylog.entry import KEY_PART, EntityType, Entry, EntryType, Status
from activitylog.errors import BadRequest
from activitylog.tracecontext import TRACE_ID, valid_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
DEFAULT_WINDOW = timedelta(hours=24)
_KEY_PART = re.compile(KEY_PART)
# Not a filter (no cursor binds it): why support reads, recorded in the org's log (activitylog.support.access).
REASON = (
    "why support reads (a ticket, a case), 1-200 characters: required of a token with activity:support and "
    "without activity:read, and recorded with the read in the org's log; the org's own readers leave it out"
)
# The query parameters of GET /activities: parsed below, and documented in the OpenAPI
# document from this same table.
PARAMETERS: dict[str, str] = {
    # The vocabularies from their enums: a new type, status or entity type shows here without an edit.
    "type": f"{', '.join(t.value for t in EntryType)}; repeat or comma-separate for several",
    "status": f"{', '.join(s.value for s in Status)}; repeat or comma-separate for several",
    "user": "a team member's id: only their actions",
    "entity_type": ", ".join(e.value for e in EntityType),
    "entity_id": "one record's history (needs entity_type)",
    "correlation_id": "one chain: the user action, the jobs it started, their webhooks and retries",
    "trace_id": "one W3C trace (32 lowercase hex): the entries written under it, and the jobs and webhooks they started",
    "from": "ISO 8601 start; default 24 hours before `to`",
    "to": "ISO 8601 end; default now",
    "limit": f"entries per page, 1-{MAX_LIMIT}, default {DEFAULT_LIMIT}",
    "cursor": "next_cursor of the previous page (opaque, signed, bound to this filter set)",
    "reason": REASON,
}
KNOWN_PARAMS = set(PARAMETERS)


@dataclass(frozen=True)
class ActivityFilter:
    types: frozenset[EntryType] = frozenset()
    statuses: frozenset[Status] = frozenset()
    user: Optional[str] = None
    entity_type: Optional[str] = None
    entity_id: Optional[str] = None
    correlation_id: Optional[str] = None
    trace_id: Optional[str] = None
    date_from: Optional[datetime] = None  # None: as the caller left it (default window)
    date_to: Optional[datetime] = None

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The resolved date range: ``to`` defaults to now, ``from`` to 24 hours before ``to``."""
        high = self.date_to or now
        # The default window of a `to` in the first day of year 1 starts at the first moment there is.
        low = self.date_from or max(high, datetime.min.replace(tzinfo=timezone.utc) + DEFAULT_WINDOW) - DEFAULT_WINDOW
        return low, high

    def digest(self) -> str:
        """A stable fingerprint of the filter set as the caller wrote it, for binding cursors."""
        canonical = {
            "type": sorted(t.value for t in self.types),
            "status": sorted(s.value for s in self.statuses),
            "user": self.user,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }
        if self.correlation_id:  # only when set: cursors of the other filter sets keep their digest
            canonical["correlation_id"] = self.correlation_id
        if self.trace_id:
            canonical["trace_id"] = self.trace_id
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ListRequest:
    filter: ActivityFilter
    limit: int = DEFAULT_LIMIT
    cursor: Optional[str] = None


def parse_list_request(params: Mapping[str, Optional[str]]) -> ListRequest:
    """Turn query-string parameters into a ``ListRequest``.

    >>> sorted(parse_list_request({"type": "BACKGROUND_JOB", "status": "FAILED,WARNING"}).filter.statuses)
    [<Status.FAILED: 'FAILED'>, <Status.WARNING: 'WARNING'>]
    """
    unknown = sorted(set(params) - KNOWN_PARAMS)
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}", unknown[0])
    date_from = _parse_time(params.get("from"), "from")
    date_to = _parse_time(params.get("to"), "to")
    if date_from and date_to and date_from > date_to:
        raise BadRequest("from must not be after to", "from")
    if date_from and not date_to and date_from > datetime.now(timezone.utc):
        raise BadRequest("from must not be in the future", "from")
    entity_type = _one_of(params.get("entity_type"), EntityType, "entity_type")
    entity_id = _key_part(params.get("entity_id"), "entity_id")
    if entity_id and not entity_type:
        raise BadRequest("entity_id needs entity_type (ids are unique within an entity type)", "entity_id")
    if params.get("trace_id") and params.get("correlation_id"):
        # neither index holds the other's key: one of them drives, and its results would be unfiltered by the other
        raise BadRequest("send trace_id or correlation_id, not both", "trace_id")
    filter_ = ActivityFilter(
        types=frozenset(_many(params.get("type"), EntryType, "type")),
        statuses=frozenset(_many(params.get("status"), Status, "status")),
        user=_key_part(params.get("user"), "user"),
        entity_type=entity_type.value if entity_type else None,
        entity_id=entity_id,
        correlation_id=_key_part(params.get("correlation_id"), "correlation_id"),
        trace_id=_trace_id(params.get("trace_id")),
        date_from=date_from,
        date_to=date_to,
    )
    return ListRequest(filter_, _limit(params.get("limit")), params.get("cursor") or None)


def _trace_id(raw: Optional[str]) -> Optional[str]:
    if raw is None or raw == "":
        return None
    if not valid_id(raw, TRACE_ID):
        raise BadRequest("trace_id must be a W3C trace id: 32 lowercase hex digits, not all zeros", "trace_id")
    return raw


def _many(raw: Optional[str], enum, name: str) -> list:
    if raw is None:
        return []
    values = [part.strip() for part in raw.split(",")]
    return [_one_of(value, enum, name) for value in values]


def _one_of(raw: Optional[str], enum, name: str):
    if raw is None:
        return None
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise BadRequest(f"{name} {raw!r} is not one of: {allowed}", name) from None


def _key_part(raw: Optional[str], name: str) -> Optional[str]:
    if raw is None:
        return None
    if not _KEY_PART.fullmatch(raw):  # not match(): '$' also matches before a trailing newline
        raise BadRequest(f"{name} must be 1-128 letters, digits or _.:@+=/-", name)
    return raw


def _parse_time(raw: Optional[str], name: str) -> Optional[datetime]:
    if raw is None:
        return None
    example = f"{name} must be an ISO 8601 time with a timezone, e.g. 2026-11-26T10:00:00Z"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(example, name) from None
    if moment.tzinfo is None:  # not guessed: a local time read as UTC is hours off
        raise BadRequest(example, name)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise BadRequest(f"{name} must be between years 1 and 9999 in UTC", name) from None


def _limit(raw: Optional[str], default: int = DEFAULT_LIMIT, most: int = MAX_LIMIT) -> int:
    if raw is None:
        return default
    # Plain ASCII digits only: int() would also read " 5", "1_0" and other scripts' digits.
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("limit must be a whole number", "limit")
    value = int(raw)
    if not 1 <= value <= most:
        raise BadRequest(f"limit must be between 1 and {most}", "limit")
    return value


# GET /members: the User filter's search of the team members the log has seen.
MEMBERS_LIMIT, MEMBERS_MAX, SEARCH_MAX = 20, 50, 100
MEMBER_PARAMETERS: dict[str, str] = {
    "q": f"part of a team member's name or id, any case (at most {SEARCH_MAX} characters); all when left out",
    "limit": f"members answered, 1-{MEMBERS_MAX}, default {MEMBERS_LIMIT}",
    "reason": REASON,
}


def parse_member_search(params: Mapping[str, Optional[str]]) -> tuple[str, int]:
    """``(search, limit)`` of GET /members.

    >>> parse_member_search({"q": " Cas "})
    ('Cas', 20)
    """
    unknown = sorted(set(params) - set(MEMBER_PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}", unknown[0])
    search = (params.get("q") or "").strip()
    if len(search) > SEARCH_MAX:
        raise BadRequest(f"q must be at most {SEARCH_MAX} characters", "q")
    return search, _limit(params.get("limit"), MEMBERS_LIMIT, MEMBERS_MAX)


# GET /catalog: the org's vocabulary, all of it or one type's actions and events.
CATALOG_PARAMETERS: dict[str, str] = {
    "type": f"only this type's actions and events: one of {', '.join(t.value for t in EntryType)}; all when left out",
}


def parse_catalog_request(params: Mapping[str, Optional[str]]) -> Optional[EntryType]:
    """The one type GET /catalog is narrowed to, or None.

    >>> parse_catalog_request({"type": "WEBHOOK"})
    <EntryType.WEBHOOK: 'WEBHOOK'>
    """
    unknown = sorted(set(params) - set(CATALOG_PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}", unknown[0])
    raw = params.get("type")
    if raw is None:
        return None
    try:
        return EntryType(raw)
    except ValueError:
        raise BadRequest(f"type must be one of {', '.join(t.value for t in EntryType)}", "type") from None


# The filter axes a body names as the list's query string does (an export's, a stream's, support's archive query).
AXES = ("type", "status", "user", "entity_type", "entity_id")
# A stream's filter (activitylog.streams): the list's own axes, minus the page and the window (a stream runs on).
STREAM_FILTER_KEYS = (*AXES, "correlation_id", "trace_id")


def parse_filter_document(document: object, field: str, keys: tuple[str, ...]) -> ActivityFilter:
    """A body's filter (``{key: value}``, ``keys`` only; type and status a list or comma-separated), read by
    ``GET /activities``' own parser; a bad one is a 400 naming ``{field}.<key>``.

    >>> sorted(parse_filter_document({"status": ["FAILED"], "type": "WEBHOOK"}, "filters", AXES).statuses)
    [<Status.FAILED: 'FAILED'>]
    """
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise BadRequest(f"{field} must be an object of the list's filter keys", field)
    params: dict[str, Optional[str]] = {}
    for key, value in document.items():
        if key not in keys:
            raise BadRequest(f"unknown filter {key!r}: use {', '.join(keys)}", f"{field}.{key}")
        values = value if isinstance(value, list) else [value]
        if value is None or value == []:
            continue
        if not all(isinstance(part, str) for part in values) or (len(values) > 1 and key not in ("type", "status")):
            raise BadRequest(
                f"{field}.{key} must be a string{' or a list of strings' if key in ('type', 'status') else ''}",
                f"{field}.{key}",
            )
        params[key] = ",".join(values)
    try:
        return parse_list_request(params).filter
    except BadRequest as error:
        raise BadRequest(error.message, f"{field}.{error.field}") from None


def filter_document(wanted: ActivityFilter) -> dict:
    """The filter as it is recorded (an export's, support's read) and read back by ``parse_filter_document``: only
    what was given, type and status as lists in the register's order, the window's ends in ISO 8601."""
    document: dict = {}
    if wanted.types:
        document["type"] = [t.value for t in EntryType if t in wanted.types]
    if wanted.statuses:
        document["status"] = [s.value for s in Status if s in wanted.statuses]
    for key, value in (
        ("user", wanted.user),
        ("entity_type", wanted.entity_type),
        ("entity_id", wanted.entity_id),
        ("correlation_id", wanted.correlation_id),
        ("trace_id", wanted.trace_id),
        ("from", wanted.date_from),
        ("to", wanted.date_to),
    ):
        if value is not None:
            document[key] = value.isoformat() if isinstance(value, datetime) else value
    return document


def parse_stream_filter(document: object, field: str = "filter") -> tuple[dict, ActivityFilter]:
    """A stream's filter as saved (each key's values as a list, in the list's spelling) and as the list reads it.

    >>> parse_stream_filter({"type": ["WEBHOOK"], "status": "FAILED,WARNING"})[0]
    {'type': ['WEBHOOK'], 'status': ['WARNING', 'FAILED']}
    """
    wanted = parse_filter_document(document, field, STREAM_FILTER_KEYS)
    saved = {key: value if isinstance(value, list) else [value] for key, value in filter_document(wanted).items()}
    return saved, wanted


def matches(wanted: ActivityFilter, entry: Entry) -> bool:
    """Whether the list, given ``wanted``, would answer ``entry`` (its axes; the date window is the caller's).

    The planner's indexes decide the list's answers: ``user`` is a user actor's id (``by_user`` holds only
    user actors), ``entity_id`` one record of ``entity_type``.
    """
    from activitylog.entry import ActorKind

    if wanted.types and entry.type not in wanted.types:
        return False
    if wanted.statuses and entry.status not in wanted.statuses:
        return False
    if wanted.user and not (entry.actor.get("kind") == ActorKind.USER.value and entry.actor.get("id") == wanted.user):
        return False
    entity = entry.entity or {}
    if wanted.entity_type and entity.get("type") != wanted.entity_type:
        return False
    if wanted.entity_id and entity.get("id") != wanted.entity_id:
        return False
    if wanted.correlation_id and entry.correlation_id != wanted.correlation_id:
        return False
    if wanted.trace_id and entry.trace_id != wanted.trace_id:
        return False
    return True
