"""What writers send: one new entry, or a job's progress (validated with pydantic).

Kept apart from ``entry`` so that reading the log never imports pydantic: the read
path's cold start is the one dashboard users wait for.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal, Optional
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from activitylog.diff import is_pointer
from activitylog.entry import KEY_PART, ActorKind, EntityType, EntryType, Status
from activitylog.requestbody import deeper_than
from activitylog.tracecontext import SPAN_ID, TRACE_ID

MAX_DEPTH = 16  # nesting levels of before, after, metadata and changes (the object itself is level 1)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # an entry id (a ULID) cannot encode an earlier time


def _shallow(value: Optional[dict]) -> Optional[dict]:
    if value is not None and deeper_than(value, MAX_DEPTH) is not None:
        raise ValueError(f"nests deeper than {MAX_DEPTH} levels")
    return value


# A free-form JSON object, bounded in depth so that storing and answering it never recurses without end.
Document = Annotated[dict[str, Any], AfterValidator(_shallow)]
_DEPTH_NOTE = f" (at most {MAX_DEPTH} levels deep)"


class _Strict(BaseModel):
    # No whitespace stripping: stack traces and messages are kept verbatim.
    model_config = ConfigDict(extra="forbid")


class Actor(_Strict):
    """Who did it: a team member (``user``), the platform (``system``) or a provider (``external``)."""

    kind: ActorKind
    id: str = Field(pattern=KEY_PART, description="u_17, system, stripe")
    name: str = Field(min_length=1, max_length=200, description="Riley Park, system, Stripe")


class Entity(_Strict):
    """The record affected; the dashboard links to it."""

    type: EntityType
    id: str = Field(pattern=KEY_PART)
    label: str = Field(default="", max_length=200)


class ErrorDetail(_Strict):
    message: str = Field(min_length=1, max_length=4000)
    type: Optional[str] = Field(default=None, max_length=200)
    stack: Optional[str] = None


class Source(_Strict):
    """Where an external event came from, e.g. ``{"provider": "stripe", "event_id": "evt_…"}``."""

    provider: str = Field(pattern=KEY_PART)
    event_id: str = Field(min_length=1, max_length=255)


def _shallow_json(value: Any) -> Any:
    if isinstance(value, (dict, list)) and deeper_than(value, MAX_DEPTH) is not None:
        raise ValueError(f"nests deeper than {MAX_DEPTH} levels")
    return value


# A body as sent or received: a JSON value, or text.
Body = Annotated[Any, AfterValidator(_shallow_json)]
Headers = dict[Annotated[str, Field(min_length=1, max_length=256)], Annotated[str, Field(max_length=8192)]]


class WebhookResponse(_Strict):
    status_code: int = Field(ge=100, le=599, description="the HTTP status the target answered")
    headers: Headers = Field(default_factory=dict)
    body: Body = Field(default=None, description="what the target answered: JSON or text")


class OutgoingWebhook(_Strict):
    """One delivery the platform made to an outside URL (an integration's webhook).

    Its ``status`` says what became of it: SUCCESS for a 2xx answer; otherwise WARNING when it
    will be retried, FAILED when it was given up. Its URL, headers and bodies are kept redacted
    (signatures, authorization, URL credentials, card numbers, CVCs, bank account numbers).
    """

    direction: Literal["outgoing"] = Field(
        description="the platform calling out (incoming webhooks arrive at /webhooks/…)"
    )
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="the target URL (http or https); kept without user info or token-like parameters",
    )
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    request_headers: Headers = Field(default_factory=dict)
    request_body: Body = Field(default=None, description="what was sent: JSON or text" + _DEPTH_NOTE)
    response: Optional[WebhookResponse] = Field(
        default=None, description="none: no answer (a timeout, a refused connection)"
    )
    duration_ms: int = Field(ge=0, le=86_400_000, description="from sending to the answer (or to giving up)")
    attempt: Optional[int] = Field(default=None, ge=1, le=1000, description="which try this was, counting from 1")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http or https URL, e.g. https://hooks.example.com/orders")
        return value


class NewEntry(_Strict):
    """One entry as a writer records it. ``org_id`` and the caller come from the token, never from here."""

    type: EntryType
    status: Status
    actor: Actor
    action: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="the verb: created, updated, synced, …")
    event: str = Field(min_length=1, max_length=300, description="the one-line label shown in the table")
    entity: Optional[Entity] = None
    occurred_at: Optional[datetime] = Field(
        default=None, description="ISO 8601 with a timezone, 1970 or later; defaults to now"
    )
    finished_at: Optional[datetime] = Field(
        default=None,
        description="for an entry recorded already finished: when it finished (ISO 8601); defaults to occurred_at",
    )
    before: Optional[Document] = Field(default=None, description="the record before an update" + _DEPTH_NOTE)
    after: Optional[Document] = Field(default=None, description="the record after an update" + _DEPTH_NOTE)
    changes: Annotated[Optional[dict[str, dict[str, Any]]], AfterValidator(_shallow)] = Field(
        default=None,
        description="a ready-made diff {/json/pointer: {before, after}} as diff.changes makes it; or send before/after"
        + _DEPTH_NOTE,
    )
    metadata: Document = Field(default_factory=dict, description="free-form details" + _DEPTH_NOTE)
    error: Optional[ErrorDetail] = None
    correlation_id: Optional[str] = Field(default=None, pattern=KEY_PART)
    trace_id: Optional[str] = Field(
        default=None,
        pattern=TRACE_ID,
        description="W3C trace id: 32 lowercase hex, not all zeros; default: the traceparent header's",
    )
    span_id: Optional[str] = Field(
        default=None,
        pattern=SPAN_ID,
        description="W3C parent (span) id: 16 lowercase hex, not all zeros; default: the traceparent header's",
    )
    retry_of: Optional[str] = Field(default=None, pattern=r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    source: Optional[Source] = None
    webhook: Optional[OutgoingWebhook] = Field(
        default=None,
        description="for a WEBHOOK entry of the platform calling out: the delivery, kept in metadata.webhook",
    )

    @field_validator("trace_id", "span_id")
    @classmethod
    def _trace(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        return traced(value, info)

    @field_validator("occurred_at", "finished_at")
    @classmethod
    def _utc_and_not_future(cls, value: Optional[datetime]) -> Optional[datetime]:
        return utc_and_not_future(value)

    @field_validator("changes")
    @classmethod
    def _changes_shape(cls, value: Optional[dict], info: ValidationInfo) -> Optional[dict]:
        if value is not None and (info.data.get("before") is not None or info.data.get("after") is not None):
            raise ValueError("send either changes or before/after, not both")
        for name, change in (value or {}).items():
            if not is_pointer(name):
                raise ValueError(f"key '{name}' is not a JSON Pointer to a field, e.g. /address/city (RFC 6901)")
            if not change or set(change) - {"before", "after"}:
                raise ValueError(
                    f"changes.{name} must hold 'before', 'after' or both (a field absent on one side has no key there)"
                )
        return value


def traced(value: Optional[str], info: ValidationInfo) -> Optional[str]:
    """A W3C trace or parent id as the spec allows it (not all zeros); a span id only with its trace."""
    if value is None:
        return value
    if value.strip("0") == "":
        raise ValueError("must not be all zeros (W3C Trace Context: an invalid id)")
    if info.field_name == "span_id" and info.data.get("trace_id") is None:
        raise ValueError("needs trace_id: a span id names a span of one trace")
    return value


def utc_and_not_future(value: Optional[datetime]) -> Optional[datetime]:
    if value is None:
        return value
    if value.tzinfo is None:
        raise ValueError("must carry a timezone, e.g. 2026-11-26T10:00:00Z")
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError("must be a time from 1970 on, in UTC") from None
    if value < EPOCH:
        raise ValueError("must be a time from 1970 on, in UTC")
    if value > datetime.now(timezone.utc) + timedelta(minutes=5):
        raise ValueError("must not be in the future")
    return value


class EntryUpdate(_Strict):
    """Job progress and completion (``PATCH /activities/{id}``)."""

    status: Optional[Status] = None
    event: Optional[str] = Field(default=None, min_length=1, max_length=300)
    metadata: Optional[Document] = Field(
        default=None, description="merged key by key: later values win, null removes a key" + _DEPTH_NOTE
    )
    error: Optional[ErrorDetail] = None
    sequence: Optional[int] = Field(
        default=None,
        ge=0,
        le=2**53,
        description="the writer's own order of its reports (a counter or epoch ms): an update older than one applied already changes no event or metadata",
    )

    finished_at: Optional[datetime] = Field(
        default=None,
        description="with a final status: when the job finished (ISO 8601); defaults to when the update arrives",
    )
    trace_id: Optional[str] = Field(
        default=None,
        pattern=TRACE_ID,
        description="W3C trace id (default: the traceparent header's): kept if the entry has no trace yet",
    )
    span_id: Optional[str] = Field(default=None, pattern=SPAN_ID, description="W3C parent id, with trace_id")

    @field_validator("trace_id", "span_id")
    @classmethod
    def _trace(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        return traced(value, info)

    @field_validator("finished_at")
    @classmethod
    def _finished_utc_and_not_future(cls, value: Optional[datetime]) -> Optional[datetime]:
        return utc_and_not_future(value)

    @model_validator(mode="after")
    def _not_empty(self) -> "EntryUpdate":
        if self.status is None and self.event is None and self.metadata is None and self.error is None:
            raise ValueError("send at least one of status, event, metadata, error")
        return self


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic error as ``(field, message)``, field as a dotted path."""
    first = exc.errors()[0]
    path = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    message = first.get("msg", "is invalid").removeprefix("Value error, ")
    return path, f"{path}: {message}"


class RetentionChange(_Strict):
    """``PUT /settings/retention``: the periods to change (at least one); the classes are checked by the policy."""

    hot_days: Optional[int] = Field(
        default=None, description="days entries stay hot (listed, in the table): 90, 365, 730, 1095, 1825 or 2555"
    )
    archive_days: Optional[int] = Field(
        default=None, description="days the archive keeps each version: 365, 730, 1095, 1825, 2555 or 3650"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> "RetentionChange":
        if self.hot_days is None and self.archive_days is None:
            raise ValueError("send hot_days, archive_days or both")
        return self


class ErasureSubject(_Strict):
    """Whose personal data to erase (``activitylog.subjects``): a team member or a contact, by id."""

    kind: Literal["user", "contact"] = Field(description="user (a team member) or contact")
    id: str = Field(pattern=KEY_PART, description="the member's or the contact's id, as entries name it")


class ErasureRequest(_Strict):
    """``POST /privacy/erasures``: the data subject whose key is destroyed."""

    subject: ErasureSubject
