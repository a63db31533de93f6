"""One entry from the archive, by id: every version it has there, the latest one's content,
and when it left the hot store.

The id is the entry's time, so its versions can only be in the objects of one hour of one day
(``layout.hour_prefix``): a look-up lists that prefix and reads those objects, in parallel.
``find(ArchiveStore(bucket), org, entry_id)`` answers the newest version's view, how many
versions there are, and when the entry expired or was removed (None while it has not).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

from activitylog.archive import layout
from activitylog.archive.lines import EXPIRE, REMOVE, Line, detail_view
from activitylog.archive.store import Objects, unpack_lines


@dataclass(frozen=True)
class ArchivedEntry:
    view: dict  # the latest version, as the detail panel shows an entry
    versions: int  # how many versions the archive holds
    expired_at: Optional[str]  # when the table's TTL removed it
    removed_at: Optional[str]  # when someone deleted it


def versions_of(objects: Objects, org: str, entry_id: str) -> list[Line]:
    """Every archived line of the entry, in stream order, each sequence number once."""
    keys = list(objects.keys(layout.hour_prefix(org, entry_id)))
    with ThreadPoolExecutor(max_workers=min(8, len(keys) or 1)) as pool:
        bodies = list(pool.map(objects.get, keys))
    found = {
        line.sequence: line
        for body in bodies
        if body
        for line in unpack_lines(body)
        if line.entry_id == entry_id and line.org == org
    }
    return [found[sequence] for sequence in sorted(found, key=int)]


def find(objects: Objects, org: str, entry_id: str) -> Optional[ArchivedEntry]:
    lines = versions_of(objects, org, entry_id)
    if not lines:
        return None
    ends = {line.change: line.document["changed_at"] for line in lines if line.change in (EXPIRE, REMOVE)}
    return ArchivedEntry(detail_view(lines[-1].document), len(lines), ends.get(EXPIRE), ends.get(REMOVE))
