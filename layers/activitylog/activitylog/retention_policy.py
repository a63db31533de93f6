"""The retention policy of one organization, and the rules that follow from it.

Hot retention sets each entry's ``expires_at`` (DynamoDB's TTL attribute): the table keeps an
entry that long, the dashboard shows it that long. Archive retention is how long the S3
archive keeps each version of an entry it wrote (a lifecycle rule per class, by object tag).

>>> policy = RetentionPolicy(hot_days=730, archive_days=2555)
>>> policy.expires_at(datetime(2026, 11, 27, tzinfo=timezone.utc))
1858809600
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Optional

from activitylog.config import ARCHIVE_CLASSES, RETENTION_CLASSES
from activitylog.errors import BadRequest

# What a change has left to do to what exists already (``restamp``), in this order.
ENTRIES, ARCHIVE = "entries", "archive"
PENDING, RUNNING, DONE = "pending", "running", "done"


@dataclass(frozen=True)
class Restamp:
    """How far a change has been applied to the entries and archive objects that existed before it."""

    state: str = DONE
    phases: tuple[str, ...] = ()  # what the change touches: ENTRIES (hot days), ARCHIVE (archive days)
    cursor: Optional[str] = None  # where the job stopped (its own format)
    entries: int = 0  # entries whose expiry it changed
    archive_objects: int = 0  # archive objects it re-tagged

    def to_dict(self) -> dict:
        return {"state": self.state, "entries_updated": self.entries, "archive_objects_updated": self.archive_objects}


@dataclass(frozen=True)
class RetentionPolicy:
    hot_days: int
    archive_days: int
    version: int = 0  # 0: the deployment's default, never set by the org
    updated_at: Optional[datetime] = None
    updated_by: Optional[str] = None
    restamp: Restamp = field(default_factory=Restamp)

    def __post_init__(self) -> None:
        check(self.hot_days, self.archive_days)

    def expires_at(self, occurred_at: datetime, table_days: Optional[int] = None) -> int:
        """An entry's TTL (epoch seconds): when it occurred plus the hot retention, or the table's days where a
        warm tier holds the rest (``table_expiry_days``)."""
        return int(occurred_at.timestamp()) + table_expiry_days(self.hot_days, table_days) * 86400

    def archive_tag(self) -> str:
        """The value of the ``archive-retention`` tag on the archive objects written under this policy."""
        return archive_tag(self.archive_days)

    def changed(
        self, hot_days: Optional[int], archive_days: Optional[int], now: datetime, by: str
    ) -> "RetentionPolicy":
        """This policy with the given values; the phases of existing data the change must revisit."""
        hot = self.hot_days if hot_days is None else hot_days
        archive = self.archive_days if archive_days is None else archive_days
        phases = tuple(
            phase
            for phase, moved in ((ENTRIES, hot != self.hot_days), (ARCHIVE, archive != self.archive_days))
            if moved
        )
        return replace(
            self,
            hot_days=hot,
            archive_days=archive,
            updated_at=now,
            updated_by=by,
            restamp=Restamp(state=PENDING if phases else DONE, phases=phases),
        )

    def to_dict(self) -> dict:
        return {
            "hot_days": self.hot_days,
            "archive_days": self.archive_days,
            "updated_at": _iso(self.updated_at) if self.updated_at else None,
            "updated_by": self.updated_by,
            "existing": self.restamp.to_dict(),
        }

    def values(self) -> dict:
        """What the SYSTEM_EVENT of a change shows before and after."""
        return {"hot_days": self.hot_days, "archive_days": self.archive_days}


ARCHIVE_TAG = "archive-retention"

# How long past the table's days an entry stays in it: compaction (2 days past) may be this late without a gap.
TABLE_GRACE_DAYS = 7


def table_expiry_days(retention_days: int, table_days: Optional[int]) -> int:
    """How long the table keeps an entry: the org's retention, or less where the warm tier holds the rest.

    >>> table_expiry_days(730, None), table_expiry_days(730, 30), table_expiry_days(90, 90)
    (730, 37, 90)
    """
    return retention_days if table_days is None else min(retention_days, table_days + TABLE_GRACE_DAYS)


def archive_tag(days: int) -> str:
    return f"{days}d"


def check(hot_days: int, archive_days: int) -> None:
    """A 400 naming the field for a period that is not a class, or an archive shorter than the hot store."""
    if hot_days not in RETENTION_CLASSES:
        raise BadRequest(f"hot_days {hot_days} is not one of: {', '.join(map(str, RETENTION_CLASSES))}", "hot_days")
    if archive_days not in ARCHIVE_CLASSES:
        raise BadRequest(
            f"archive_days {archive_days} is not one of: {', '.join(map(str, ARCHIVE_CLASSES))}", "archive_days"
        )
    if archive_days < hot_days:
        raise BadRequest(
            f"archive_days ({archive_days}) must be at least hot_days ({hot_days}): "
            "the archive is what remains once entries leave the hot store",
            "archive_days",
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
