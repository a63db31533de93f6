"""An item <-> an entry: the detail fields, times as epoch ms, a Query's raw answer read like an item,
a stream image's binary values, the retention policy's item.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional

from activitylog.retention_policy import Restamp, RetentionPolicy
from activitylog.store.models import EntryItem, PolicyItem

# The detail blob's fields; everything else is a list column or a key.
DETAIL_FIELDS = (
    "changes",
    "metadata",
    "error",
    "correlation_id",
    "retry_of",
    "source",
    "recorded_by",
    "sequence",
    "trace_id",
    "span_id",
)


class WireItem:
    """An item as a Query answers it (botocore's ``{"S": …}`` form), read like an ``EntryItem``.

    Reads build no pynamodb object: its per-attribute deserialization cost an export twice the
    CPU of the Query itself (bench/export.py). The names and types come from the model.
    """

    if TYPE_CHECKING:  # its attributes are the model's, set from the answer

        def __getattr__(self, name: str) -> Any: ...

    _ATTRIBUTES = {
        name: (attribute.attr_name, attribute.attr_type) for name, attribute in EntryItem.get_attributes().items()
    }
    __slots__ = tuple(_ATTRIBUTES)

    def __init__(self, raw: dict) -> None:
        for name, (stored, kind) in self._ATTRIBUTES.items():
            value = raw.get(stored)
            if value is not None:
                value = value[kind]
                if kind == "N":
                    value = int(value) if value.lstrip("-").isdigit() else float(value)
            setattr(self, name, value)


def retried_value(run_id: str, status: str, finished_at: Optional[datetime]) -> str:
    """A retry run's state as the ``rr`` attribute of the entry it retried: a later run, or the same run
    finished, compares greater, so a write conditional on ``rr < value`` never moves the outcome back.

    >>> retried_value("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", "IN_PROGRESS", None) < retried_value("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", "FAILED", None)
    True
    """
    return f"{run_id}#{0 if status == 'IN_PROGRESS' else 1}#{status}#{epoch_ms(finished_at) or ''}"


def retried_of(value: Optional[str]) -> Optional[dict]:
    """``Entry.retried`` from the ``rr`` attribute."""
    if not value:
        return None
    run_id, _, status, finished = value.split("#")
    finished_at = from_epoch_ms(int(finished)) if finished else None
    return {
        "run_id": run_id,
        "status": status,
        "finished_at": finished_at.isoformat(timespec="milliseconds").replace("+00:00", "Z") if finished_at else None,
    }


def policy_of(item: PolicyItem) -> RetentionPolicy:
    return RetentionPolicy(
        hot_days=int(item.hot_days),
        archive_days=int(item.archive_days),
        version=int(item.version or 0),
        updated_at=from_epoch_ms(item.updated_at),
        updated_by=item.updated_by,
        restamp=Restamp(
            state=item.restamp_state,
            phases=tuple(filter(None, (item.restamp_phases or "").split(","))),
            cursor=item.restamp_cursor,
            entries=int(item.restamp_entries or 0),
            archive_objects=int(item.restamp_objects or 0),
        ),
    )


def epoch_ms(moment: Optional[datetime]) -> Optional[int]:
    return int(moment.timestamp() * 1000) if moment else None


def from_epoch_ms(value: Optional[float]) -> Optional[datetime]:
    return datetime.fromtimestamp(value / 1000, timezone.utc) if value else None


def from_base64(value: dict) -> dict:
    """A stream image's attribute value with its binary values as bytes, as pynamodb reads them."""
    import base64

    if "B" in value:
        return {"B": base64.b64decode(value["B"])}
    if "BS" in value:
        return {"BS": [base64.b64decode(part) for part in value["BS"]]}
    return value
