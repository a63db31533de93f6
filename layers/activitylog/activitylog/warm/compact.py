"""Compaction: an org's archived versions as Parquet files, one row per entry at its latest version.

Every version of an entry sits under its occurred day (``archive.layout``). The org's months are
taken oldest first and gathered into batches of at most ``FILE_ROWS`` versions (a small org's
months share a file, so it does not make many tiny ones); a batch becomes files of at most
``FILE_ROWS`` rows each, cut by id (a big org's month becomes several files, so the footer a page
opens holds a bounded number of row groups whatever the org's size). Files are zstd, rows sorted
by id, in row groups of ``ROW_GROUP_ROWS``: id is time, so a page's window and cursor skip row
groups by their id min/max, and the flat filter columns (type, status, actor, entity,
correlation id) carry their min/max and a bloom filter each (``DICTIONARY_PER_ROW_GROUP``).
The org's files are listed by its manifest, written last, each with its id range, its row
groups' id ranges and a summary of the values it holds (``summarize``), so a page skips a file
that cannot match without opening it:

==================================================  ==========================================
key                                                 what
==================================================  ==========================================
``warm/org={org}/{period}/{sha256[:32]}.parquet``   rows of the org's month(s) ``period``
``warm/org={org}/manifest.json``                    the files readers use, newest first
==================================================  ==========================================

A file's key is its content's hash, and the same archive always makes the same bytes (one
thread, rows in id order, batches cut by the archive's own line counts), so a rerun over the
same input writes the same keys and the same manifest. Readers follow the manifest only: a
compaction that stops half-way has written new files nobody lists yet, and the previous
manifest and its files still answer. Old files are not deleted here (a reader may hold the
previous manifest; collecting them is left to later).

>>> months(["2026-01-31", "2025-12-01", "2026-01-02"])
{'2025-12': ['2025-12-01'], '2026-01': ['2026-01-02', '2026-01-31']}
>>> list(batches([("2026-01", 40), ("2026-02", 50), ("2026-03", 20), ("2026-04", 300), ("2026-05", 5)], 100))
[['2026-01', '2026-02'], ['2026-03'], ['2026-04'], ['2026-05']]
>>> summarize({"users": ["u_1", "u_2"], "types": ["JOB"]}, most=1)
{'types': ['JOB'], 'users': None}
>>> warm_key("org/1", "2026-01", bytes(3))[:40]
'warm/org=org%2F1/2026-01/709e80c88487a24'
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Protocol

from activitylog.archive import layout
from activitylog.archive.store import Objects

WARM_PREFIX = "warm/"
ROW_GROUP_ROWS = 2048  # rows per row group (DuckDB's smallest): a page of a dense filter reads one or two
# Distinct values a column chunk's dictionary may hold (DuckDB's DICTIONARY_SIZE_LIMIT): room for every row of
# a row group, so every column is dictionary-encoded, which is when DuckDB writes its bloom filter, and an
# equality on a user, entity id or correlation id skips the groups without it. Memory grows with it
# (bench/warm.py: 1,000,000 took compaction from ~0.1 to ~1.4 GB; twice the rows costs nothing measurable).
DICTIONARY_PER_ROW_GROUP = 2

FILE_ROWS = 8 * ROW_GROUP_ROWS  # rows per file at most: a page opens a footer of at most 8 row groups
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
           correlation_id, retry_of, detail_unavailable, versions, expired_at, removed_at
    FROM latest WHERE newest = 1 ORDER BY id
"""


class Bucket(Objects, Protocol):
    def put(self, key: str, body: bytes, content_type: str = ..., tag: Optional[str] = None) -> None: ...


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


def months(days: Iterable[str]) -> dict[str, list[str]]:
    """The ``date=`` partitions (YYYY-MM-DD) grouped by month, both in order."""
    grouped: dict[str, list[str]] = {}
    for day in sorted(days):
        grouped.setdefault(day[:7], []).append(day)
    return grouped


def org_prefix(org: str) -> str:
    return f"{WARM_PREFIX}org={layout.org_part(org)}/"


def manifest_key(org: str) -> str:
    return f"{org_prefix(org)}manifest.json"


def warm_key(org: str, period: str, body: bytes) -> str:
    return f"{org_prefix(org)}{period}/{hashlib.sha256(body).hexdigest()[:32]}.parquet"


def batches(counts: Iterable[tuple[str, int]], most: int) -> Iterator[list[str]]:
    """Consecutive periods (oldest first, each with its count of versions) gathered while their total stays within
    ``most``; a period over ``most`` alone is a batch of its own (its files are cut by id). Lazy: a batch is
    handed out once the next period is known not to fit, so no more than a batch and a period are held."""
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
) -> list[tuple[Path, int, str, str, dict[str, Optional[list[str]]]]]:
    """The latest version of every entry in ``files`` (gzip JSON lines) as Parquet files in ``folder`` of at most
    ``file_rows`` rows each, in id order; each as (path, rows, lowest id, highest id, summary)."""
    import duckdb

    file_rows = file_rows or FILE_ROWS
    connection = connection or duckdb.connect()
    # One thread: the same input makes the same bytes (row groups cut at the same rows).
    connection.execute("SET threads = 1")
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in LINE_COLUMNS.items()) + "}"
    connection.execute(f"CREATE OR REPLACE TEMP TABLE latest AS {_LATEST.format(columns=columns)}", [files])
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


def archived_days(objects: Objects, org: str) -> list[str]:
    """The org's ``date=`` partitions in the archive."""
    start = len(layout.org_prefix(org)) + len("date=")
    return sorted({key[start : start + 10] for key in objects.keys(layout.org_prefix(org))})


def fetch(objects: Objects, org: str, days: list[str], folder: Path) -> tuple[list[str], int]:
    """The days' archive objects copied under ``folder``; (their paths, the versions they hold)."""
    raw, versions = [], 0
    for day in days:
        for key in objects.keys(layout.date_prefix(org, day)):
            body = objects.get(key)
            if body is not None:
                path = folder / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                raw.append(str(path))
                versions += gzip.decompress(body).count(b"\n")
    return raw, versions


def compact(
    objects: Bucket, org: str, row_group_rows: int = ROW_GROUP_ROWS, workdir: Optional[Path] = None
) -> list[WarmFile]:
    """Compact the org's whole archive into files of at most ``FILE_ROWS`` rows, then switch its manifest to them;
    the files, newest first."""
    import duckdb

    made: list[WarmFile] = []
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        fetched: dict[str, list[str]] = {}

        def counted() -> Iterator[tuple[str, int]]:
            for period, days in months(archived_days(objects, org)).items():
                fetched[period], versions = fetch(objects, org, days, Path(folder) / "raw" / period)
                yield period, versions

        # Batches by the archive's version counts (an entry's versions share its month): deterministic, and at
        # most FILE_ROWS entries unless one month alone holds more.
        for periods in batches(counted(), FILE_ROWS):
            name = periods[0] if len(periods) == 1 else f"{periods[0]}_{periods[-1]}"
            out = Path(folder) / "out" / name
            out.mkdir(parents=True)
            raw = sorted(path for period in periods for path in fetched.pop(period))
            for path, rows, low, high, summary in write_parquet(raw, out, row_group_rows):
                body = path.read_bytes()
                key = warm_key(org, name, body)
                if objects.get(key) is None:  # the same content was written before: nothing to do
                    objects.put(key, body, content_type="application/vnd.apache.parquet")
                groups = [list(group) for group in row_groups(duckdb.connect(), str(path))]
                made.append(WarmFile(key, name, rows, low, high, len(body), groups, summary))
            for period in periods:  # the batch is written: its raw copies go (disk follows a batch, not the org)
                shutil.rmtree(Path(folder) / "raw" / period, ignore_errors=True)
            shutil.rmtree(out)
    made.sort(key=lambda file: file.max_id, reverse=True)
    manifest = {"org": org, "files": [asdict(file) for file in made]}
    objects.put(manifest_key(org), json.dumps(manifest, sort_keys=True, indent=1).encode())
    return made


def current(objects: Objects, org: str) -> list[WarmFile]:
    """The files the org's manifest lists (newest first); none before the first compaction."""
    body = objects.get(manifest_key(org))
    return [WarmFile(**file) for file in json.loads(body)["files"]] if body else []


def row_groups(connection: Any, location: str) -> list[tuple[str, str]]:
    """(lowest id, highest id) of each row group of a file, newest first, from its footer. The file is
    sorted by id, so the groups' ranges do not overlap."""
    found = connection.execute(
        "SELECT stats_min_value, stats_max_value FROM parquet_metadata(?) WHERE path_in_schema = 'id' "
        "ORDER BY row_group_id DESC",
        [location],
    ).fetchall()
    return [(low, high) for low, high in found]
