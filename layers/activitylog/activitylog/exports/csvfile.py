"""The export's CSV: its columns, one row per entry, and RFC 4180 text out of Python's csv module.

UTF-8, a header row, CRLF line ends, a field quoted when it holds a comma, a quote or a line
break (``csv.QUOTE_MINIMAL``). A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula (OWASP "CSV injection"); such a cell gets a
leading ``'``, which spreadsheets show as text and never evaluate.

>>> from activitylog.entry import Entry, EntryType, Status
>>> entry = Entry("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", EntryType.USER_ACTION, Status.SUCCESS,
...               {"kind": "user", "id": "u_1", "name": "=Riley"}, "updated", "Contact updated", None)
>>> writer = CsvWriter(header=True)
>>> writer.write(entry)
>>> writer.take()
b"id,time,type,status,...\\r\\n01JDQ7Z9K3M5N7P9R1T3V5X7Z9,2024-11-27T16:41:19.715Z,USER_ACTION,SUCCESS,user,u_1,'=Riley,...\\r\\n"
"""

from __future__ import annotations

import csv
import io
import json

from activitylog.entry import Entry, iso_time

COLUMNS = (
    "id",
    "time",
    "type",
    "status",
    "actor_kind",
    "actor_id",
    "actor_name",
    "action",
    "event",
    "entity_type",
    "entity_id",
    "entity_label",
    "changed_fields",
    "error_message",
    "correlation_id",
    "trace_id",  # W3C Trace Context ids (lowercase hex), last: readers by position keep their columns
    "span_id",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def row(entry: Entry) -> list[str]:
    """One entry's cells, in ``COLUMNS`` order. The entry must carry its detail (changes, error).

    ``changed_fields`` is the JSON list of the changed fields' JSON Pointers (``["/email"]``):
    a pointer may hold any character, so no separator could be read back unambiguously.
    """
    actor, entity = entry.actor, entry.entity or {}
    cells = (
        entry.id,
        iso_time(entry.occurred_at),
        entry.type.value,
        entry.status.value,
        actor["kind"],
        actor["id"],
        actor["name"],
        entry.action,
        entry.event,
        entity.get("type") or "",
        entity.get("id") or "",
        entity.get("label") or "",
        json.dumps(list(entry.changes), ensure_ascii=False) if entry.changes else "",
        _error_message(entry),
        entry.correlation_id or "",
        entry.trace_id or "",
        entry.span_id or "",
    )
    return [
        "'" + cell if cell.startswith(FORMULA_STARTS) else cell for cell in cells
    ]  # neutralise(), inlined: per cell, per row


def _error_message(entry: Entry) -> str:
    """Why a FAILED or WARNING entry is so (``Entry.reason``: its warnings too); any other's error message, if any."""
    reason = entry.reason
    if reason is not None:
        return reason["message"]
    return str(entry.error.get("message") or "") if entry.error else ""


class CsvWriter:
    """Rows written one at a time as UTF-8 bytes, taken out in pieces (a part, a page).

    Encoded as they are written (not kept as text: ``io.StringIO`` holds four bytes a
    character), so a part of N bytes costs about N bytes, and twice that while it is taken.

    ``take()`` answers what was written since the last take (the header first), and starts over.
    """

    def __init__(self, header: bool = False) -> None:
        self._bytes = io.BytesIO()
        self._text = io.TextIOWrapper(self._bytes, encoding="utf-8", newline="", write_through=True)
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        if header:
            self._writer.writerow(COLUMNS)

    def write(self, entry: Entry) -> None:
        self._writer.writerow(row(entry))

    @property
    def size(self) -> int:
        """Bytes written since the last ``take``."""
        return self._bytes.tell()

    def take(self) -> bytes:
        data = self._bytes.getvalue()
        self._bytes.seek(0)
        self._bytes.truncate()
        return data
