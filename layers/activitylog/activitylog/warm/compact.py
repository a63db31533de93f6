"""Compaction: an org's archived versions as Parquet files, one row per entry at its latest version.

Every version of an entry sits under its occurred day (``archive.layout``). Compaction is incremental:
the org's manifest says through which day its files hold every entry (``through``), and a run takes
the archive's days after it, up to the day it is given (``compactable_through``: entries older than
the table's ``HOT_TABLE_DAYS`` no longer change), oldest first. Their rows are cut by id into files of
``FILE_ROWS`` rows; what is left under ``FILE_ROWS`` joins the next days, and the newest file already
listed, when not full, is read back and joins the new rows, so a small org keeps filling one file
instead of adding a tiny one a day, and a big org's files stay bounded (the footer a page opens holds
at most ``FILE_ROWS / ROW_GROUP_ROWS`` row groups whatever the org's size). Files are zstd, rows sorted
by id, in row groups of ``ROW_GROUP_ROWS``: id is time, so a page's window and cursor skip row
groups by their id min/max, and the flat filter columns (type, status, actor, entity,
correlation id) carry their min/max and a bloom filter each (``DICTIONARY_PER_ROW_GROUP``).
The org's files are listed by its manifest, written last, each with its id range, its row
groups' id ranges and a summary of the values it holds (``summarize``), so a page skips a file
that cannot match without opening it:

==================================================  ==========================================
key                                                 what
==================================================  ==========================================
``warm/org={org}/{period}/{sha256[:32]}.parquet``   rows of the month(s) ``period`` its ids span
``warm/org={org}/manifest.json``                    the files readers use, newest first
==================================================  ==========================================

A file's key is its content's hash, and the same input (the same manifest, archive and ``through``)
always makes the same bytes (one thread, rows in id order, batches cut by the archive's own line
counts), so a rerun writes the same keys and the same manifest; a rerun with a ``through`` already
reached writes nothing. Readers follow the manifest only: a
compaction that stops half-way has written new files nobody lists yet, and the previous
manifest and its files still answer. Old files are not deleted here (a reader may hold the
previous manifest; collecting them, and the not-full files a later run replaced, is left to later).

>>> list(batches([("2026-01-01", 40), ("2026-01-02", 50), ("2026-01-03", 20), ("2026-01-04", 300), ("2026-01-05", 5)], 100))
[['2026-01-01', '2026-01-02'], ['2026-01-03'], ['2026-01-04'], ['2026-01-05']]
>>> summarize({"users": ["u_1", "u_2"], "types": ["JOB"]}, most=1)
{'types': ['JOB'], 'users': None}
>>> compactable_through(datetime(2026, 12, 5, 3), hot_table_days=30)
datetime.date(2026, 11, 3)
>>> warm_key("org/1", "2026-01", bytes(3))[:40]
'warm/org=org%2F1/2026-01/709e80c88487a24'
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol

from activitylog import ids
from activitylog.archive import layout
from activitylog.archive.store import Objects
from activitylog.ids import occurred_at
from activitylog.warm import bloom

WARM_PREFIX = "warm/"
ROW_GROUP_ROWS = 2048  # rows per row group (DuckDB's smallest): a page of a dense filter reads one or two
# Distinct values a column chunk's dictionary may hold (DuckDB's DICTIONARY_SIZE_LIMIT): room for every row of
# a row group, so every column is dictionary-encoded, which is when DuckDB writes its bloom filter, and an
# equality on a user, entity id or correlation id skips the groups without it. Memory grows with it
# (bench/warm.py: 1,000,000 took compaction from ~0.1 to ~1.4 GB; twice the rows costs nothing measurable).
DICTIONARY_PER_ROW_GROUP = 2

FILE_ROWS = 8 * ROW_GROUP_ROWS  # rows per file at most: a page opens a footer of at most 8 row groups
ORG_SECONDS = 120  # the job starts no org with less time than this left (a day of a big org takes seconds)
SUMMARY_VALUES = 256  # distinct values a file's summary lists per axis; more: unknown (the file is opened)

# The archive line's columns as DuckDB reads them (``lines.COLUMNS``, org from the path).
LINE_COLUMNS = {
    "id": "VARCHAR",
    "seq": "VARCHAR",
    "change": "VARCHAR",
    "changed_at": "VARCHAR",
    "version": "BIGINT",
    "occurred_at": "VARCHAR",
    "type": "VARCHAR",
    "status": "VARCHAR",
    "actor": "STRUCT(kind VARCHAR, id VARCHAR, name VARCHAR)",
    "action": "VARCHAR",
    "event": "VARCHAR",
    "entity": "STRUCT(type VARCHAR, id VARCHAR, label VARCHAR)",
    "recorded_at": "VARCHAR",
    "recorded_by": "VARCHAR",
    "finished_at": "VARCHAR",
    "sequence": "BIGINT",
    "expires_at": "BIGINT",
    "changes": "VARCHAR",
    "metadata": "VARCHAR",
    "error": "VARCHAR",
    "source": "VARCHAR",
    "correlation_id": "VARCHAR",
    "retry_of": "VARCHAR",
    "detail_unavailable": "BOOLEAN",
    "trace_id": "VARCHAR",
    "span_id": "VARCHAR",
}

# One row per entry: its newest version, flat (a filter column is a plain column, for its statistics),
# with how many versions it had and when it expired from the table or was removed.
_LATEST = """
    WITH versions AS (
        SELECT * FROM read_json(?, format = 'newline_delimited', compression = 'gzip', hive_partitioning = false,
                                columns = {columns})
    ),
    latest AS (
        SELECT *,
               row_number() OVER (PARTITION BY id ORDER BY lpad(seq, 40, '0') DESC) AS newest,
               count(DISTINCT seq) OVER (PARTITION BY id) AS versions,
               max(CASE WHEN change = 'EXPIRE' THEN changed_at END) OVER (PARTITION BY id) AS expired_at,
               max(CASE WHEN change = 'REMOVE' THEN changed_at END) OVER (PARTITION BY id) AS removed_at
        FROM versions
    )
    SELECT id, seq, version, occurred_at, type, status,
           actor.kind AS actor_kind, actor.id AS actor_id, actor.name AS actor_name, action, event,
           entity.type AS entity_type, entity.id AS entity_id, entity.label AS entity_label,
           recorded_at, recorded_by, finished_at, sequence, expires_at, changes, metadata, error, source,
           correlation_id, retry_of, detail_unavailable, trace_id, span_id, versions, expired_at, removed_at
    FROM latest WHERE newest = 1 ORDER BY id
"""


class Bucket(Objects, Protocol):
    def put(self, key: str, body: bytes, content_type: str = ..., tag: Optional[str] = None) -> None: ...


class Listing(Objects, Protocol):
    def prefixes(self, prefix: str) -> Iterator[str]: ...


@dataclass(frozen=True)
class WarmFile:
    key: str
    period: str  # YYYY-MM
    rows: int
    min_id: str
    max_id: str
    size: int
    groups: list[list[str]] = field(default_factory=list)  # each row group's [lowest id, highest id], newest first
    # The values present, per axis (types, statuses, entity_types, users, user_types: "TYPE user"); an axis
    # missing or None is unknown (too many values, or a manifest written before summaries).
    summary: dict[str, Optional[list[str]]] = field(default_factory=dict)
    # a Bloom filter of its correlation ids sits beside it (``correlations_key``); False in older manifests
    correlations: bool = False


def correlations_key(file_key: str) -> str:
    """Where a file's correlation ids' Bloom filter is (``warm.bloom``): beside it, named after it."""
    return file_key.removesuffix(".parquet") + ".correlations"


@dataclass(frozen=True)
class Manifest:
    """What an org's warm files hold: every entry that occurred on ``through`` or before (its latest version),
    none after; None before the first compaction."""

    through: Optional[date]
    files: list[WarmFile]

    @property
    def boundary(self) -> str:
        """The lowest id the warm tier does not hold (``boundary``): readers read the table from it."""
        return boundary(self.through)


def boundary(through: Optional[date]) -> str:
    """The first id after ``through``'s day (00:00 UTC the day after); every id when nothing is compacted yet.

    >>> boundary(None), boundary(date(2026, 1, 31))
    ('00000000000000000000000000', '01KGB7ZK000000000000000000')
    """
    if through is None:
        return ids.LOWEST_ID
    return ids.lower_bound(datetime.combine(through + timedelta(days=1), datetime.min.time(), timezone.utc))


def org_prefix(org: str) -> str:
    return f"{WARM_PREFIX}org={layout.org_part(org)}/"


def manifest_key(org: str) -> str:
    return f"{org_prefix(org)}manifest.json"


def warm_key(org: str, period: str, body: bytes) -> str:
    return f"{org_prefix(org)}{period}/{hashlib.sha256(body).hexdigest()[:32]}.parquet"


def batches(counts: Iterable[tuple[str, int]], most: int) -> Iterator[list[str]]:
    """Consecutive days (oldest first, each with its count of versions) gathered while their total stays within
    ``most``; a day over ``most`` alone is a batch of its own (its files are cut by id). Lazy: a batch is
    handed out once the next day is known not to fit, so no more than a batch and a day are held."""
    batch: list[str] = []
    total = 0
    for period, count in counts:
        if batch and total + count > most:
            yield batch
            batch, total = [], 0
        batch.append(period)
        total += count
    if batch:
        yield batch


def summarize(values: dict[str, list[str]], most: int = SUMMARY_VALUES) -> dict[str, Optional[list[str]]]:
    """Each axis's values, sorted, or None when there are more than ``most`` (the manifest stays small)."""
    return {axis: sorted(found) if len(found) <= most else None for axis, found in sorted(values.items())}


_SUMMARY = """
    SELECT list(DISTINCT type), list(DISTINCT status), list(DISTINCT entity_type),
           list(DISTINCT actor_id) FILTER (WHERE actor_kind = 'user'),
           list(DISTINCT type || ' ' || actor_id) FILTER (WHERE actor_kind = 'user')
    FROM latest WHERE id BETWEEN ? AND ?
"""


def write_parquet(
    files: list[str],
    folder: Path,
    row_group_rows: int = ROW_GROUP_ROWS,
    file_rows: Optional[int] = None,
    connection: Any = None,
    carry: Optional[Path] = None,
) -> list[tuple[Path, int, str, str, dict[str, Optional[list[str]]]]]:
    """The latest version of every entry in ``files`` (gzip JSON lines), with the rows of ``carry`` (a file this
    module wrote, of other entries), as Parquet files in ``folder`` of at most ``file_rows`` rows each, in id
    order; each as (path, rows, lowest id, highest id, summary)."""
    import duckdb

    file_rows = file_rows or FILE_ROWS
    connection = connection or duckdb.connect()
    # One thread: the same input makes the same bytes (row groups cut at the same rows).
    connection.execute("SET threads = 1")
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in LINE_COLUMNS.items()) + "}"
    connection.execute(f"CREATE OR REPLACE TEMP TABLE latest AS {_LATEST.format(columns=columns)}", [files])
    if carry is not None:
        connection.execute("INSERT INTO latest BY NAME SELECT * FROM read_parquet(?)", [str(carry)])
    row = connection.execute("SELECT count(*) FROM latest").fetchone()
    made = []
    for number, offset in enumerate(range(0, int(row[0]) if row else 0, file_rows)):
        out = folder / f"{number}.parquet"
        target = str(out).replace("'", "''")  # COPY's target cannot be a parameter
        connection.execute(
            f"COPY (SELECT * FROM latest ORDER BY id LIMIT {int(file_rows)} OFFSET {int(offset)}) TO '{target}' "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {int(row_group_rows)}, "
            f"DICTIONARY_SIZE_LIMIT {int(row_group_rows) * DICTIONARY_PER_ROW_GROUP})"
        )
        found = connection.execute("SELECT count(*), min(id), max(id) FROM read_parquet(?)", [str(out)]).fetchone()
        rows, low, high = (int(found[0]), found[1], found[2]) if found else (0, "", "")
        values = connection.execute(_SUMMARY, [low, high]).fetchone() or ()
        axes = ("types", "statuses", "entity_types", "users", "user_types")
        present = {axis: [v for v in found or [] if v is not None] for axis, found in zip(axes, values, strict=True)}
        made.append((out, rows, low, high, summarize(present)))  # list() keeps NULLs: an entry with no entity
    connection.execute("DROP TABLE latest")
    return made


def archived_days(
    objects: Objects, org: str, after: Optional[date] = None, through: Optional[date] = None
) -> list[str]:
    """The org's ``date=`` partitions in the archive, after ``after`` and through ``through`` when given: the listing
    starts after the one and stops past the other (keys come in order), so a daily run lists about a day."""
    start = len(layout.org_prefix(org)) + len("date=")
    begin = f"{layout.date_prefix(org, after.isoformat())}~" if after else None  # "~" sorts after every key of the day
    days: list[str] = []
    for key in objects.keys(layout.org_prefix(org), start_after=begin):
        day = key[start : start + 10]
        if through and day > through.isoformat():
            break
        if not days or days[-1] != day:
            days.append(day)
    return days


def archived_orgs(archive: Listing) -> list[str]:
    """Every org with an archive: the ``archive/org=…/`` prefixes, one listing with a delimiter (no object read)."""
    return sorted(layout.org_of(prefix) for prefix in archive.prefixes(layout.ARCHIVE_PREFIX))


def compactable_through(now: datetime, hot_table_days: int) -> date:
    """The last day compaction takes: its entries are older than ``hot_table_days`` (frozen: no job update, no
    retention re-stamp changes them any more), and one more day lets the archive writer land their last versions."""
    return (now - timedelta(days=hot_table_days + 2)).date()


def fetch(objects: Objects, org: str, days: list[str], folder: Path) -> tuple[list[str], int]:
    """The days' archive objects copied into ``folder`` (flat: one file each, no folder per key to remove);
    (their paths, the versions they hold)."""
    raw, versions = [], 0
    folder.mkdir(parents=True, exist_ok=True)
    for day in days:
        for key in objects.keys(layout.date_prefix(org, day)):
            body = objects.get(key)
            if body is not None:
                path = folder / f"{day}_{key.rsplit('/', 1)[1]}"
                path.write_bytes(body)
                raw.append(str(path))
                versions += gzip.decompress(body).count(b"\n")
    return raw, versions


def period_of(low: str, high: str) -> str:
    """A file's period from its id range: its month, or its first and last month (``2026-01_2026-03``)."""
    first, last = (occurred_at(entry_id).strftime("%Y-%m") for entry_id in (low, high))
    return first if first == last else f"{first}_{last}"


def compact(
    archive: Objects,
    warm: Bucket,
    org: str,
    through: date,
    row_group_rows: int = ROW_GROUP_ROWS,
    workdir: Optional[Path] = None,
) -> Manifest:
    """Add the org's archived days after its manifest's ``through``, up to ``through``, to its warm files, then
    switch its manifest to them (the new manifest; the old one, untouched, when it already reaches ``through``).

    Days are taken oldest first and gathered while their versions fit ``FILE_ROWS``; each batch becomes files of
    ``FILE_ROWS`` rows, cut by id, and what is left under ``FILE_ROWS`` is carried into the next batch rather than
    written. The newest file already listed, when not full, is the first carry (read back from ``warm``): a
    small org's days keep filling one file instead of adding a tiny one each run. An entry's versions all sit
    under its occurred day, so a day taken once is never taken again, and the carry never holds an entry the
    new days do.
    """
    import duckdb

    old = read_manifest(warm, org)
    if old.through is not None and through <= old.through:
        return old  # nothing new: no write, the manifest stays byte for byte
    kept = list(old.files) if old.through is not None else []  # a manifest without ``through``: start over
    days = archived_days(archive, org, after=old.through, through=through)
    made: list[WarmFile] = []
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        work = Path(folder)
        carry: Optional[Path] = None
        if kept and kept[0].rows < FILE_ROWS and days:  # the newest file is not full: the new rows join it
            tail = kept.pop(0)
            carry = work / "carry-0.parquet"
            carry.write_bytes(warm.get(tail.key) or b"")
        fetched: dict[str, list[str]] = {}

        def counted() -> Iterator[tuple[str, int]]:
            for day in days:
                fetched[day], versions = fetch(archive, org, [day], work / "raw")
                yield day, versions

        for number, batch in enumerate(batches(counted(), FILE_ROWS)):
            out = work / "out" / str(number)
            out.mkdir(parents=True)
            # The days in order, a day's hours in order.
            raw = sorted(path for day in batch for path in fetched.pop(day))
            written = write_parquet(raw, out, row_group_rows, carry=carry)
            # Not full, and more days follow (batches() has fetched the next one): the last file joins them.
            if written and written[-1][1] < FILE_ROWS and fetched:
                carry = work / f"carry-{number + 1}.parquet"
                shutil.move(str(written.pop()[0]), carry)
            else:
                carry = None
            for path, rows, low, high, summary in written:
                body = path.read_bytes()
                period = period_of(low, high)
                key = warm_key(org, period, body)
                warm.put(key, body, content_type="application/vnd.apache.parquet")  # the same bytes: the same key
                reader = duckdb.connect()
                chains = reader.execute(
                    "SELECT DISTINCT correlation_id FROM read_parquet(?) WHERE correlation_id IS NOT NULL", [str(path)]
                ).fetchall()
                warm.put(correlations_key(key), bloom.make(chain for (chain,) in chains), "application/octet-stream")
                groups = [list(group) for group in row_groups(reader, str(path))]
                made.append(WarmFile(key, period, rows, low, high, len(body), groups, summary, correlations=True))
            for copy in raw:  # the batch is written: its raw copies go (disk follows a batch, not the org)
                os.unlink(copy)
            shutil.rmtree(out)
    files = sorted(made + kept, key=lambda file: file.max_id, reverse=True)
    manifest = Manifest(through, files)
    listed = {"org": org, "through": through.isoformat(), "files": [asdict(file) for file in files]}
    warm.put(manifest_key(org), json.dumps(listed, sort_keys=True, indent=1).encode())  # last: readers switch here
    return manifest


def compact_orgs(
    archive: Listing, warm: Bucket, through: date, time_left: Optional[Callable[[], float]] = None
) -> dict[str, Any]:
    """Compact every org with an archive through ``through`` (the scheduled job). ``time_left`` (seconds): an
    org is not started with less than ``ORG_SECONDS`` left, and the next run goes on from the manifests.
    What was done: orgs compacted, entries added, files written, orgs left for the next run, and the orgs that
    failed (logged; the others go on: one org's bad object must not hold every org after it back)."""
    from activitylog.observability import logger

    done: dict[str, Any] = {"orgs": 0, "entries": 0, "files": 0, "orgs_left": 0, "failed": []}
    for org in archived_orgs(archive):
        if time_left is not None and time_left() < ORG_SECONDS:
            done["orgs_left"] += 1
            continue
        before = read_manifest(warm, org)
        try:
            after = compact(archive, warm, org, through)
        except Exception:
            logger.exception("compaction failed: the org's manifest is as it was", extra={"org": org})
            done["failed"].append(org)
            continue
        old_keys = {file.key for file in before.files}
        done["orgs"] += after != before
        done["entries"] += sum(f.rows for f in after.files) - sum(f.rows for f in before.files if before.through)
        done["files"] += sum(1 for file in after.files if file.key not in old_keys)
    return done


def read_manifest(objects: Objects, org: str) -> Manifest:
    """The org's manifest: how far its files reach, and the files (newest first); empty before its first compaction."""
    body = objects.get(manifest_key(org))
    if not body:
        return Manifest(None, [])
    found = json.loads(body)
    through = found.get("through")
    return Manifest(date.fromisoformat(through) if through else None, [WarmFile(**file) for file in found["files"]])


def current(objects: Objects, org: str) -> list[WarmFile]:
    """The files the org's manifest lists (newest first); none before the first compaction."""
    return read_manifest(objects, org).files


def row_groups(connection: Any, location: str) -> list[tuple[str, str]]:
    """(lowest id, highest id) of each row group of a file, newest first, from its footer. The file is
    sorted by id, so the groups' ranges do not overlap."""
    found = connection.execute(
        "SELECT stats_min_value, stats_max_value FROM parquet_metadata(?) WHERE path_in_schema = 'id' "
        "ORDER BY row_group_id DESC",
        [location],
    ).fetchall()
    return [(low, high) for low, high in found]
