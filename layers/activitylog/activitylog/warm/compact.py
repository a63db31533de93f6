"""Compaction: an org's archived versions as Parquet files, one row per entry at its latest version.

Each calendar month of the entries' occurred time (every version of an entry sits under its
occurred day, ``archive.layout``) becomes one Parquet file, zstd, rows sorted by id, in row
groups of ``ROW_GROUP_ROWS``: id is time, so a page's window and cursor skip row groups by
their id min/max, and the flat filter columns (type, status, actor, entity, correlation id)
carry their min/max and a bloom filter each (``DICTIONARY_PER_ROW_GROUP``). The org's files are
listed by its manifest, written last:

==================================================  ==========================================
key                                                 what
==================================================  ==========================================
``warm/org={org}/{YYYY-MM}/{sha256[:32]}.parquet``  one month of the org's entries
``warm/org={org}/manifest.json``                    the files readers use, newest month first
==================================================  ==========================================

A file's key is its content's hash, and the same archive always makes the same bytes (one
thread, rows in id order), so a rerun over the same input writes the same keys and the same
manifest. Readers follow the manifest only: a compaction that stops half-way has written new
files nobody lists yet, and the previous manifest and its files still answer. Old files are
not deleted here (a reader may hold the previous manifest; collecting them is left to later).

>>> months(["2026-01-31", "2025-12-01", "2026-01-02"])
{'2025-12': ['2025-12-01'], '2026-01': ['2026-01-02', '2026-01-31']}
>>> warm_key("org/1", "2026-01", bytes(3))[:40]
'warm/org=org%2F1/2026-01/709e80c88487a24'
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Protocol

from activitylog.archive import layout
from activitylog.archive.store import Objects

WARM_PREFIX = "warm/"
ROW_GROUP_ROWS = 2048  # rows per row group (DuckDB's smallest): a page of a dense filter reads one or two
# Distinct values a column chunk's dictionary may hold (DuckDB's DICTIONARY_SIZE_LIMIT): room for every row of
# a row group, so every column is dictionary-encoded, which is when DuckDB writes its bloom filter, and an
# equality on a user, entity id or correlation id skips the groups without it. Memory grows with it
# (bench/warm.py: 1,000,000 took compaction from ~0.1 to ~1.4 GB; twice the rows costs nothing measurable).
DICTIONARY_PER_ROW_GROUP = 2

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


def write_parquet(
    files: list[str],
    out: Path,
    row_group_rows: int = ROW_GROUP_ROWS,
    connection: Any = None,
) -> tuple[int, str, str]:
    """The latest version of every entry in ``files`` (gzip JSON lines) as one Parquet file at ``out``;
    (rows, lowest id, highest id)."""
    import duckdb

    connection = connection or duckdb.connect()
    # One thread: the same input makes the same bytes (row groups cut at the same rows).
    connection.execute("SET threads = 1")
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in LINE_COLUMNS.items()) + "}"
    target = str(out).replace("'", "''")  # COPY's target cannot be a parameter
    connection.execute(
        f"COPY ({_LATEST.format(columns=columns)}) TO '{target}' "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {int(row_group_rows)}, "
        f"DICTIONARY_SIZE_LIMIT {int(row_group_rows) * DICTIONARY_PER_ROW_GROUP})",
        [files],
    )
    row = connection.execute("SELECT count(*), min(id), max(id) FROM read_parquet(?)", [str(out)]).fetchone()
    return (int(row[0]), row[1], row[2]) if row else (0, "", "")


def archived_days(objects: Objects, org: str) -> list[str]:
    """The org's ``date=`` partitions in the archive."""
    start = len(layout.org_prefix(org)) + len("date=")
    return sorted({key[start : start + 10] for key in objects.keys(layout.org_prefix(org))})


def compact(
    objects: Bucket, org: str, row_group_rows: int = ROW_GROUP_ROWS, workdir: Optional[Path] = None
) -> list[WarmFile]:
    """Compact the org's whole archive into one file per month, then switch its manifest to them; the files."""
    import duckdb

    made: list[WarmFile] = []
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        for period, days in months(archived_days(objects, org)).items():
            local = Path(folder) / period
            raw = []
            for day in days:
                for key in objects.keys(layout.date_prefix(org, day)):
                    body = objects.get(key)
                    if body is not None:
                        path = local / key
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(body)
                        raw.append(str(path))
            out = local / "out.parquet"
            rows, low, high = write_parquet(sorted(raw), out, row_group_rows)
            body = out.read_bytes()
            key = warm_key(org, period, body)
            if objects.get(key) is None:  # the same content was written before: nothing to do
                objects.put(key, body, content_type="application/vnd.apache.parquet")
            groups = [list(group) for group in row_groups(duckdb.connect(), str(out))]
            made.append(WarmFile(key, period, rows, low, high, len(body), groups))
    made.sort(key=lambda file: file.period, reverse=True)
    manifest = {"org": org, "files": [asdict(file) for file in made]}
    objects.put(manifest_key(org), json.dumps(manifest, sort_keys=True, indent=1).encode())
    return made


def current(objects: Objects, org: str) -> list[WarmFile]:
    """The files the org's manifest lists (newest month first); none before the first compaction."""
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
