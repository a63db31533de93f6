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

    @property
    def occurred_at(self) -> datetime:
        from activitylog.ids import occurred_at

        return occurred_at(self.id)

    def list_view(self) -> dict:
        """The columns of the Activity Logs table."""
        return {
            "id": self.id,
            "occurred_at": iso_time(self.occurred_at),
            "type": self.type.value,
            "status": self.status.value,
            "actor": self.actor,
            "action": self.action,
            "event": self.event,
            "entity": self.entity,
        }

    def detail_view(self) -> dict:
        """Everything the detail panel shows: before/after diff, metadata, error.

        An offloaded detail that cannot be found leaves the list columns and says so,
        rather than failing the whole answer.
        """
        if self.detail_missing:
            return {**self.list_view(), "detail_unavailable": DETAIL_UNAVAILABLE}
        return {
            **self.list_view(),
            "recorded_at": iso_time(self.recorded_at) if self.recorded_at else None,
            "finished_at": iso_time(self.finished_at) if self.finished_at else None,
            "sequence": self.sequence,
            "changes": self.changes,
            "metadata": self.metadata,
            "error": self.error,
            "correlation_id": self.correlation_id,
            "retry_of": self.retry_of,
            "source": self.source,
            "recorded_by": self.recorded_by,
            "expires_at": self.expires_at,
            "retry": self.retry_state(),
        }

    def retry_state(self) -> Optional[dict]:
        """Whether a FAILED or WARNING job (or outgoing webhook) may be retried from here, and if not, why."""
        from activitylog.jobs.registry import retry_state  # the register decides; it imports this module

        return retry_state(self)


DETAIL_UNAVAILABLE = "this entry's detail (changes, metadata, error) could not be read; support has been alerted"


def iso_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds (``2026-11-26T10:00:00.000Z``): the API's and the export's time."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
