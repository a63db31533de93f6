"""The entry: what one row of the Activity Logs page records, and its vocabulary.

``Entry`` is what is stored and read back; what writers send is in ``inputs``. Field
names are the product's own words (actor, entity, changes, metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Optional

# Key parts must not contain the key separator, and stay short enough for index keys.
KEY_PART = r"^[A-Za-z0-9_.:@+=/-]{1,128}$"
# An org id: a key part that is also one segment of a webhook URL (no '/'); the API's token
# claim, the webhook route and the CLI all take this one pattern. SSM cannot name ':@+=':
# ``webhooks.secrets.parameter_name`` encodes them.
ORG_ID = r"[A-Za-z0-9_.:@+=-]{1,128}"
ORG_ID_CHARACTERS = "1-128 letters, digits or _.:@+=-"


class EntryType(str, Enum):
    USER_ACTION = "USER_ACTION"
    BACKGROUND_JOB = "BACKGROUND_JOB"
    WEBHOOK = "WEBHOOK"
    SYSTEM_EVENT = "SYSTEM_EVENT"


class Status(str, Enum):
    SUCCESS = "SUCCESS"
    IN_PROGRESS = "IN_PROGRESS"
    WARNING = "WARNING"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self is not Status.IN_PROGRESS


class ActorKind(str, Enum):
    USER = "user"
    SYSTEM = "system"
    EXTERNAL = "external"


class EntityType(str, Enum):
    """The product page's "What's logged" categories, plus the service's own records."""

    CONTACT = "contact"
    RELEASE = "release"
    PRODUCT = "product"
    FULFILLMENT = "fulfillment"
    PAYMENT = "payment"
    SETTING = "setting"
    INTEGRATION = "integration"
    TEAM_MEMBER = "team_member"
    JOB = "job"
    EXPORT = "export"
    ENTRY = "entry"  # an entry of the log itself: what support read (activitylog.support.access)


@dataclass
class Entry:
    """One stored entry. ``occurred_at`` is the id's own time part."""

    id: str
    type: EntryType
    status: Status
    actor: dict
    action: str
    event: str
    entity: Optional[dict]
    recorded_at: Optional[datetime] = None
    expires_at: Optional[int] = None
    changes: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    error: Optional[dict] = None
    correlation_id: Optional[str] = None
    # W3C Trace Context ids of the write's traceparent (lowercase hex): matches the entry with the platform's traces
    trace_id: Optional[str] = None
    span_id: Optional[str] = None
    retry_of: Optional[str] = None
    source: Optional[dict] = None
    recorded_by: Optional[str] = None
    finished_at: Optional[datetime] = None  # when it reached a final status
    sequence: Optional[int] = None  # the highest update sequence a writer sent (job progress)
    stalls_at: Optional[datetime] = None  # an IN_PROGRESS job: when, without progress, the sweeper calls it stalled
    version: int = 1
    shard: Optional[int] = None  # the write shard it is stored under, once read back
    detail_ref: Optional[str] = None  # the S3 key of its detail, when offloaded
    detail_missing: bool = False  # the offloaded detail object could not be found
    # a FAILED or WARNING entry that was retried: its latest retry run, ``{run_id, status, finished_at}`` (list column)
    retried: Optional[dict] = None

    @property
    def occurred_at(self) -> datetime:
        from activitylog.ids import occurred_at

        return occurred_at(self.id)

    def list_view(self) -> dict:
        """The columns of the Activity Logs table: the entry's own fields only (the list and the chain
        answer them). The detail panel, which asks the job register about Retry, is ``views``'."""
        view = {
            "id": self.id,
            "occurred_at": iso_time(self.occurred_at),
            "type": self.type.value,
            "status": self.status.value,
            "actor": self.actor,
            "action": self.action,
            "event": self.event,
            "entity": self.entity,
        }
        if self.retried:  # only on a retried entry: the rows of every other answer stay as they were
            view["retried"] = self.retried
        return view

    @property
    def reason(self) -> Optional[dict]:
        """Why a FAILED or WARNING entry is so: ``{message, recorded}``, from ``error.message`` or, for a
        warning, its ``metadata.warnings`` (the job client's ``warn``) or ``metadata.warning``; an entry that
        names none says so plainly (``recorded`` false). None for any other status.

        >>> Entry("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", EntryType.BACKGROUND_JOB, Status.WARNING, {}, "synced", "Sync", None,
        ...       metadata={"warnings": ["3 items had no SKU"]}).reason
        {'message': '3 items had no SKU', 'recorded': True}
        """
        if self.status not in (Status.FAILED, Status.WARNING):
            return None
        message = (self.error or {}).get("message")
        if not message and self.status is Status.WARNING:
            warnings = (self.metadata or {}).get("warnings")
            texts = [str(w) for w in warnings if w] if isinstance(warnings, list) else []
            message = "; ".join(texts) or (self.metadata or {}).get("warning")
        if isinstance(message, str) and message.strip():
            return {"message": message, "recorded": True}
        return {"message": NO_REASON, "recorded": False}


NO_REASON = "no reason was recorded"
DETAIL_UNAVAILABLE = "this entry's detail (changes, metadata, error) could not be read; support has been alerted"


def iso_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds (``2026-11-26T10:00:00.000Z``): the API's and the export's time."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
