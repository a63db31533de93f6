"""The export's CSV: its columns, one row per entry, and RFC 4180 text out of Python's csv module.

UTF-8, a header row, CRLF line ends, a field quoted when it holds a comma, a quote or a line
break (``csv.QUOTE_MINIMAL``). A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula (OWASP "CSV injection"); such a cell gets a
leading ``'``, which spreadsheets show as text and never evaluate.

>>> writer = CsvWriter(header=True)
>>> writer.write(entry)
>>> writer.take()
b'id,time,type,status,...\\r\\n01J...,2026-11-26T10:00:00.000Z,USER_ACTION,SUCCESS,...\\r\\n'
"""

from __future__ import annotations

import csv
import io
import json
from typing import Optional

from activitylog.entry import Entry, iso_time

COLUMNS = ("id", "time", "type", "status", "actor_kind", "actor_id", "actor_name", "action", "event",
           "entity_type", "entity_id", "entity_label", "changed_fields", "error_message", "correlation_id")
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
        entry.id, iso_time(entry.occurred_at), entry.type.value, entry.status.value,
        actor["kind"], actor["id"], actor["name"], entry.action, entry.event,
        entity.get("type") or "", entity.get("id") or "", entity.get("label") or "",
        json.dumps(list(entry.changes), ensure_ascii=False) if entry.changes else "",
        _error_message(entry.error), entry.correlation_id or "",
    )
    return [neutralise(cell) for cell in cells]


def _error_message(error: Optional[dict]) -> str:
    return str(error.get("message") or "") if error else ""


class CsvWriter:
    """Rows written one at a time into text, taken out as UTF-8 bytes in pieces (a part, a page).

    >>> writer = CsvWriter(header=True)
    >>> writer.write(entry)
    >>> writer.take()  # the header and the row, as bytes; the writer starts over
    """

    def __init__(self, header: bool = False) -> None:
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        if header:
            self._writer.writerow(COLUMNS)

    def write(self, entry: Entry) -> None:
        self._writer.writerow(row(entry))

    @property
    def chars(self) -> int:
        """Characters written since the last ``take`` (at most the bytes they encode to)."""
        return self._text.tell()

    def take(self) -> bytes:
        data = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        return data
