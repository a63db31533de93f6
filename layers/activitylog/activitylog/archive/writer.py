"""The archive function's work: a batch of the table's stream records into S3.

Every INSERT and MODIFY of an entry becomes a line; a REMOVE by the table's TTL (its record's
``userIdentity`` is the DynamoDB service) becomes an EXPIRE line, "expired from the hot store",
with the entry's last content; any other REMOVE a REMOVE line. Meta items are not entries.

A batch makes few objects: one per org, day and hour its entries occurred in (live traffic: one
or two per org), keyed by the first line's stream sequence number, then one manifest.
Every line is built before anything is written, so a record that cannot be read fails the
batch before a byte is stored: Lambda then splits the batch (BisectBatchOnFunctionError) until
that record is alone, and after its retries reports it to the on-failure queue. Because keys
come from sequence numbers, every retry and every half rewrites the same objects.

Last, the batch's new entries are counted in their orgs' catalogues (``store.catalog``): the archive reads
every entry anyway, and a count added twice by a retried batch is refused by its batch mark.

``container().archiver.archive(DynamoDBStreamEvent(event).records)`` answers what it wrote: ``Archived``'s
counts of versions, expired and removed lines, skipped records, objects and manifests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional

from activitylog.archive import layout
from activitylog.archive.lines import EXPIRE, REMOVE, Line, canonical, version_line
from activitylog.archive.store import ArchiveStore
from activitylog.store.catalog import uses_of

# What DynamoDB Streams puts in a record of a deletion by Time to Live.
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


class UnreadableRecord(Exception):
    """A stream record of an entry the archive cannot turn into a line (it fails the batch)."""


@dataclass
class Archived:
    versions: int = 0  # lines written (INSERT and MODIFY)
    expired: int = 0  # EXPIRE lines: removed by TTL
    removed: int = 0  # REMOVE lines: deleted by someone
    skipped: int = 0  # records of items that are not entries
    objects: int = 0
    manifests: int = 0
    catalogued: int = 0  # catalogue names whose counts were added to

    def to_dict(self) -> dict:
        return asdict(self)


class Archiver:
    def __init__(
        self,
        entries: Any,
        archive: ArchiveStore,
        archive_tag: Callable[[str], str],
        catalog: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.entries = entries  # the service (or its store): images into entries
        self.bucket = archive
        self.archive_tag = archive_tag  # org -> the tag value of its archive retention class
        self.catalog = catalog  # the store's ``Catalog``: the new entries' uses counted (None: not counted)
        self.clock = clock

    def archive(self, records: Iterable[Any]) -> Archived:
        """Write the batch's lines (Powertools ``DynamoDBRecord`` objects, in stream order)."""
        done = Archived()
        lines: list[Line] = []
        for record in records:
            line = self.line(record)
            if line is None:
                done.skipped += 1
                continue
            lines.append(line)
            done.expired += line.change == EXPIRE
            done.removed += line.change == REMOVE
            done.versions += line.change not in (EXPIRE, REMOVE)
        placed: list[tuple[str, Line]] = []
        for key, group in objects_of(lines).items():
            self.bucket.put_lines(key, group, self.archive_tag(group[0].org))
            placed += [(key, line) for line in group]
            done.objects += 1
        if placed:  # last: a manifest only names objects that exist
            self.bucket.put(layout.manifest_key(self.clock(), lines[0].sequence), manifest_body(placed))
            done.manifests += 1
        if self.catalog is not None and lines:
            batch = f"{lines[0].sequence}-{lines[-1].sequence}-{len(lines)}"
            done.catalogued = self.catalog.count_catalog(uses_of(line.document for line in lines), batch)
        return done

    def line(self, record: Any) -> Optional[Line]:
        """The line of one stream record; None for an item that is not an entry."""
        stream = record.dynamodb
        removed = record.event_name.name == "REMOVE"
        image = stream.raw_event.get("OldImage" if removed else "NewImage") or {}
        try:
            found = self.entries.entry_from_image(image)
        except Exception as error:  # noqa: BLE001 - any unreadable image stops the batch, by name
            raise UnreadableRecord(
                f"stream record {stream.sequence_number}: {type(error).__name__}: {error}"
            ) from error
        if found is None:
            return None
        org, entry = found
        if removed:
            change = EXPIRE if record.user_identity == TTL_IDENTITY else REMOVE
        else:
            change = record.event_name.name
        changed = stream.approximate_creation_date_time
        return version_line(
            org,
            entry,
            stream.sequence_number,
            change,
            datetime.fromtimestamp(changed, timezone.utc) if changed is not None else None,
        )


def objects_of(lines: list[Line]) -> dict[str, list[Line]]:
    """A batch's lines by object: org, and the day and hour their entry occurred in; each keyed by its first line."""
    groups: dict[tuple[str, str], list[Line]] = defaultdict(list)
    for line in lines:
        groups[(line.org, layout.hour_prefix(line.org, line.entry_id))].append(line)
    return {layout.data_key(org, group[0].entry_id, group[0].sequence): group for (org, _), group in groups.items()}


def manifest_body(placed: list[tuple[str, Line]]) -> bytes:
    """A batch's manifest: each line it placed, under its object's key (the digest job reads these)."""
    return canonical(
        {
            "lines": [
                {
                    "org": line.org,
                    "key": key,
                    "id": line.entry_id,
                    "seq": line.sequence,
                    "change": line.change,
                    "sha256": line.sha256,
                }
                for key, line in placed
            ]
        }
    ).encode()
