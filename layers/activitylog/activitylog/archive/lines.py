"""One archived version of one entry: a canonical JSON line.

A line holds the whole entry as it was at that version (the detail panel's fields), where it
came from on the stream, and what happened: ``INSERT`` and ``MODIFY`` (a version), ``EXPIRE``
(the table's TTL removed it: "expired from the hot store", with its last content) or
``REMOVE`` (someone deleted it: the audit trail says so, it is never silent).

The text is canonical (sorted keys, no spaces) and built only from the stream record, so the
same record always makes the same bytes: a redelivered batch rewrites identical objects, and
a digest's SHA-256 of a line can be checked years later. Free-form fields (``changes``,
``metadata``, ``error``, ``source``) are JSON text, so Athena's table keeps one column type.

>>> from activitylog.entry import EntryType, Status
>>> entry = Entry("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", EntryType.USER_ACTION, Status.SUCCESS, {"kind": "user", "id": "u_1"},
...               "updated", "Contact updated", {"type": "contact", "id": "c_1", "label": "Alex"})
>>> line = version_line("org_1", entry, sequence="000000000000000000042", change=INSERT, changed_at=None)
>>> line.text[:56]
'{"action":"updated","actor":{"id":"u_1","kind":"user"},"'
>>> line.sha256 == version_line("org_1", entry, "000000000000000000042", INSERT, None).sha256
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Optional

from activitylog.entry import Entry

INSERT, MODIFY, EXPIRE, REMOVE = "INSERT", "MODIFY", "EXPIRE", "REMOVE"

# The columns of a line, in the order template.yaml's Glue table declares them (a test compares).
COLUMNS = (
    "org",
    "id",
    "seq",
    "change",
    "changed_at",
    "version",
    "occurred_at",
    "type",
    "status",
    "actor",
    "action",
    "event",
    "entity",
    "recorded_at",
    "recorded_by",
    "finished_at",
    "sequence",
    "expires_at",
    "changes",
    "metadata",
    "error",
    "source",
    "correlation_id",
    "retry_of",
    "detail_unavailable",
    "trace_id",
    "span_id",
)


@dataclass(frozen=True)
class Line:
    org: str
    entry_id: str
    sequence: str  # the stream record's SequenceNumber
    change: str
    text: str  # canonical JSON, no newline

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def document(self) -> dict:
        return json.loads(self.text)

    @classmethod
    def parse(cls, text: str) -> "Line":
        """A line read back from an object (its text kept exactly as stored, for hashing)."""
        document = json.loads(text)
        return cls(document["org"], document["id"], document["seq"], document["change"], text)


def version_line(org: str, entry: Entry, sequence: str, change: str, changed_at: Optional[datetime]) -> Line:
    """The line for one stream record of one entry."""
    document = {
        "org": org,
        "id": entry.id,
        "seq": sequence,
        "change": change,
        "changed_at": _iso(changed_at),
        "version": entry.version,
        "occurred_at": _iso(entry.occurred_at),
        "type": entry.type.value,
        "status": entry.status.value,
        "actor": entry.actor,
        "action": entry.action,
        "event": entry.event,
        "entity": entry.entity,
        "recorded_at": _iso(entry.recorded_at),
        "recorded_by": entry.recorded_by,
        "finished_at": _iso(entry.finished_at),
        "sequence": entry.sequence,
        "expires_at": entry.expires_at,
        "changes": _json_text(entry.changes),
        "metadata": _json_text(entry.metadata),
        "error": _json_text(entry.error),
        "source": _json_text(entry.source),
        "correlation_id": entry.correlation_id,
        "retry_of": entry.retry_of,
        "detail_unavailable": entry.detail_missing,
        "trace_id": entry.trace_id,
        "span_id": entry.span_id,
    }
    return Line(org, entry.id, sequence, change, canonical(document))


def canonical(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def detail_view(document: dict) -> dict:
    """A line as the API's detail panel answers an entry (``views.detail_view``'s fields)."""
    view = {
        key: document[key]
        for key in (
            "id",
            "occurred_at",
            "type",
            "status",
            "actor",
            "action",
            "event",
            "entity",
            "recorded_at",
            "finished_at",
            "sequence",
            "correlation_id",
            "retry_of",
            "recorded_by",
            "expires_at",
        )
    }
    for key in ("trace_id", "span_id"):  # lines archived before traces were kept have neither
        if document.get(key):
            view[key] = document[key]
    for key in ("changes", "metadata", "error", "source"):
        view[key] = json.loads(document[key]) if document[key] is not None else None
    if document.get("detail_unavailable"):
        view["detail_unavailable"] = "this version's detail could not be read when it was archived"
    return view


def _json_text(value) -> Optional[str]:
    return None if value is None else canonical(value)


def _iso(moment: Optional[datetime]) -> Optional[str]:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
