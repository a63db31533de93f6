"""The export as an activity: the BACKGROUND_JOB entry ``EXPORT_ACTIVITY_LOG`` that records it.

Its id is the export id (the one the requester is given, and support is asked about). Its
metadata is the export's record: who asked, the filters as given and the date window they
resolved to, how it is delivered, rows and bytes so far, parts, and the file's SHA-256.
Everything else an export needs is derived from it, so the state machine carries only a
position and counters.

>>> filters, document = parse_filters({"type": ["BACKGROUND_JOB"], "status": ["FAILED"]})
>>> document
{'type': ['BACKGROUND_JOB'], 'status': ['FAILED']}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional

from activitylog import ids
from activitylog.entry import EntityType, Entry, EntryType, Status, iso_time
from activitylog.query.filters import AXES, ActivityFilter, filter_document, parse_filter_document

JOB = "EXPORT_ACTIVITY_LOG"
EXPORTER = "svc_exports"  # recorded_by of an export's entry: the export service, writing for the requester
FILTER_KEYS = (*AXES, "from", "to")


def parse_filters(filters: Optional[Mapping[str, Any]]) -> tuple[ActivityFilter, dict]:
    """A body's filters, read by ``GET /activities``' own parser: the filter and its canonical document
    (a bad key or value is a 400 naming ``filters.<key>``)."""
    wanted = parse_filter_document(filters, "filters", FILTER_KEYS)
    return wanted, filter_document(wanted)


def new_export(
    requester: Mapping[str, Optional[str]],
    filters: dict,
    low: datetime,
    high: datetime,
    asked: datetime,
    status: Status,
    delivery: str,
    progress: Optional[dict] = None,
    reason: Optional[str] = None,
) -> dict:
    """The entry document that records an export (``NewEntry``); its entity id becomes the entry's own id.

    ``reason``: support's, for an export by support (``activitylog.support.access``): shown in the entity's label
    and kept in the metadata, so the org sees why its log was exported.
    """
    label = f"CSV export by support · reason: {reason}" if reason else "CSV export"
    label = label if len(label) <= 200 else label[:199] + "…"  # an entity label's limit; the metadata has it whole
    document: dict[str, Any] = {
        "type": EntryType.BACKGROUND_JOB.value,
        "status": status.value,
        "actor": {"kind": "user", "id": requester["id"], "name": requester.get("name") or requester["id"]},
        "action": "exported",
        "event": JOB,
        "entity": {"type": EntityType.EXPORT.value, "id": "new", "label": label},
        "metadata": {
            "job": JOB,
            "format": "csv",
            "delivery": delivery,  # "inline": answered at once; "email": run in the background, the link emailed
            "requester": {"id": requester["id"], "name": requester.get("name")},
            "filters": filters,
            # The window the filters resolved to when asked, and when that was: every step of a long export
            # reads the same window, and leaves out what was recorded after ``as_of`` (a snapshot).
            "window": {"from": low.isoformat(), "to": high.isoformat(), "as_of": asked.isoformat()},
            "rows": 0,
            "bytes": 0,
            **(progress or {}),
        },
    }
    if reason:
        document["metadata"]["reason"] = reason
    return document


@dataclass(frozen=True)
class Export:
    """An export, as its entry records it."""

    entry: Entry

    @classmethod
    def of(cls, entry: Entry) -> Optional["Export"]:
        """The export an entry records, or None if it records something else."""
        entity = entry.entity or {}
        if (
            entity.get("type") != EntityType.EXPORT.value
            or entity.get("id") != entry.id
            or entry.metadata.get("job") != JOB
        ):
            return None
        return cls(entry)

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def requester(self) -> str:
        return self.entry.metadata["requester"]["id"]

    @property
    def filter(self) -> ActivityFilter:
        return parse_filters(self.entry.metadata.get("filters"))[0]

    @property
    def id_range(self) -> tuple[str, str]:
        """The ids of the export's window (entries recorded after ``as_of`` are left out as they are read)."""
        window = self.entry.metadata["window"]
        return ids.lower_bound(datetime.fromisoformat(window["from"])), ids.upper_bound(
            datetime.fromisoformat(window["to"])
        )

    @property
    def as_of(self) -> datetime:
        """When it was asked for: the list as it was then is the export (earlier exports: their entry's time)."""
        asked = self.entry.metadata["window"].get("as_of")
        return datetime.fromisoformat(asked) if asked else self.entry.occurred_at

    def file_expires_at(self, days: int) -> datetime:
        """When a large export's file stops being offered: ``days`` (its link's) after it was finished. The
        bucket's rule removes it a day later, so a link handed out before then still finds it."""
        return (self.entry.finished_at or self.entry.occurred_at) + timedelta(days=days)

    def filename(self, org: str) -> str:
        """``activity-log-org_demo-20261126-100000.csv``: the org and when it was asked for."""
        return f"activity-log-{re.sub(r'[^A-Za-z0-9_.-]', '_', org)}-{self.entry.occurred_at:%Y%m%d-%H%M%S}.csv"

    def view(self, download_url: Optional[str] = None) -> dict:
        """What ``GET /exports/{id}`` answers."""
        metadata, entry = self.entry.metadata, self.entry
        return {
            "export_id": entry.id,
            "status": entry.status.value,
            "rows": metadata.get("rows", 0),
            "bytes": metadata.get("bytes", 0),
            "parts": metadata.get("parts"),
            "sha256": metadata.get("sha256"),
            "delivery": metadata.get("delivery"),
            "filters": metadata.get("filters", {}),
            "window": metadata.get("window"),
            "requested_at": iso_time(entry.occurred_at),
            "finished_at": iso_time(entry.finished_at) if entry.finished_at else None,
            "error": (entry.error or {}).get("message"),
            "download_url": download_url,
        }
