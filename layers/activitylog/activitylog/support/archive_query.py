"""The archive with DuckDB: the entries of one org in a window, filtered like ``GET /activities``.

The archive's objects sit in a folder laid out as the bucket is (``layout``: hive partitions
``org=…/date=…``): on this machine the local stack's S3 folder, or the partitions ``mirror``
copied from a bucket. DuckDB reads the partition columns from the paths and opens only the
files of the org and the days asked for. Each entry answers with its latest archived version
(an entry that expired answers with its last content, and when it expired), newest first.

This is the support and compliance tool for entries the dashboard no longer shows; in AWS the
same question goes to Athena (template.yaml's ``ArchiveTable`` and ``WarmTable``, README "Querying the archive").
``query(folder, org, parse_list_request(params).filter, now)`` answers one row per entry (its
newest version), newest first, with when it expired or was removed.

Once the org's archive is compacted (``activitylog.warm``: Parquet files of each entry's latest
version, listed by the org's manifest with the day ``through`` they cover), the days up to
``through`` are read from those files (``mirror_warm``: only the files whose id range meets the
window and whose summary may match the filter; DuckDB then reads only the row groups whose
id and filter statistics can match) and the raw archive only for the days after it
(``raw_window``). The rows are the same: a warm row is what this query computes from the raw
versions (latest version, ``versions``, ``expired_at``, ``removed_at``), as compaction saw them.
The warm files are derived data (no digest signs them): ``activitylog archive query --raw`` reads
every day from the raw archive, each version checked against its signed digest.
"""

from __future__ import annotations

import gc
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from activitylog import ids
from activitylog.archive import layout
from activitylog.archive.layout import days
from activitylog.archive.lines import Line
from activitylog.archive.store import Objects, pack_lines, unpack_lines
from activitylog.query.filters import ActivityFilter
from activitylog.warm.compact import WarmFile, boundary, manifest_key, read_manifest
from activitylog.warm.page import may_match, predicates

# The JSON columns a query reads (``lines.COLUMNS``; ``org`` and ``date`` come from the path).
_COLUMNS = {
    "id": "VARCHAR",
    "seq": "VARCHAR",
    "change": "VARCHAR",
    "changed_at": "VARCHAR",
    "occurred_at": "VARCHAR",
    "type": "VARCHAR",
    "status": "VARCHAR",
    "actor": "STRUCT(kind VARCHAR, id VARCHAR, name VARCHAR)",
    "action": "VARCHAR",
    "event": "VARCHAR",
    "entity": "STRUCT(type VARCHAR, id VARCHAR, label VARCHAR)",
}


def mirror(
    objects: Objects, org: str, low: datetime, high: datetime, into: Path, keep: Optional[Callable[[Line], bool]] = None
) -> int:
    """Copy the org's partitions of the window's days from ``objects`` into the folder ``into``, only the
    lines ``keep`` accepts (all by default); how many objects."""
    keys = [key for day in days(low, high) for key in objects.keys(layout.date_prefix(org, day))]

    def copy(key: str) -> None:
        body = objects.get(key)
        if body is not None and keep is not None:
            body = pack_lines([line for line in unpack_lines(body) if keep(line)])
        if body is not None:
            path = into / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(copy, keys))
    return len(keys)


@dataclass(frozen=True)
class Warm:
    """The compacted part of an org's archive: the days up to ``through`` are in ``files``
    (where DuckDB reads each, and what the manifest says of it)."""

    through: date
    files: list[tuple[str, WarmFile]]


def raw_window(through: Optional[date], low: datetime, high: datetime) -> Optional[tuple[datetime, datetime]]:
    """The part of the window the raw archive answers (after ``through``); None when the warm tier holds it all."""
    if through is None:
        return low, high
    start = datetime.combine(through + timedelta(days=1), time(), timezone.utc)
    return None if high < start else (max(low, start), high)


def warm_files(files: list[WarmFile], through: date, wanted: ActivityFilter, now: datetime) -> list[WarmFile]:
    """The files a query of ``wanted`` must open: their ids meet the window's part up to ``through``, and their
    summary does not rule the filter out."""

    low, high = wanted.window(now)
    low_id, high_id = ids.lower_bound(low), min(ids.upper_bound(high), ids.before(boundary(through)))
    return [file for file in files if file.max_id >= low_id and file.min_id <= high_id and may_match(file, wanted)]


def mirror_warm(objects: Objects, org: str, wanted: ActivityFilter, now: datetime, into: Path) -> Optional[Warm]:
    """Copy the org's warm files a query of ``wanted`` needs into the folder ``into``; None before compaction."""
    manifest = read_manifest(objects, org)
    through, files = manifest.through, manifest.files
    if through is None:
        return None
    needed = warm_files(files, through, wanted, now)

    def copy(file: WarmFile) -> tuple[str, WarmFile]:
        path = into / file.key
        path.parent.mkdir(parents=True, exist_ok=True)
        body = objects.get(file.key)
        if body is None:  # files are never rewritten in place: a listed one missing is a broken warm tier
            raise FileNotFoundError(f"{file.key}, listed by {manifest_key(org)}, is not in the warm bucket")
        path.write_bytes(body)
        return str(path), file

    with ThreadPoolExecutor(max_workers=8) as pool:
        return Warm(through, list(pool.map(copy, needed)))


def query(
    root: Path,
    org: str,
    wanted: ActivityFilter,
    now: datetime,
    limit: Optional[int] = None,
    connection=None,
    warm: Optional[Warm] = None,
) -> list[dict]:
    """The entries of ``org`` in ``root``'s archive matching ``wanted`` (window and the five axes), newest first.

    Each row holds the list columns of the entry's latest archived version, plus ``versions``,
    ``expired_at`` and ``removed_at``. With ``warm``, the days it covers come from its files and
    ``root`` is read only for the days after them.
    """
    import duckdb

    low, high = wanted.window(now)
    parts: list[str] = []
    parameters: list[Any] = []
    raw = raw_window(warm.through if warm else None, low, high)
    if raw is not None and list((Path(root) / layout.ARCHIVE_PREFIX).glob("*/*/*.jsonl.gz")):
        files = str(Path(root) / layout.ARCHIVE_PREFIX / "*" / "*" / "*.jsonl.gz")
        where, values = predicates(
            wanted,
            {
                "actor_kind": "actor.kind",
                "actor_id": "actor.id",
                "entity_type": "entity.type",
                "entity_id": "entity.id",
            },
        )
        parts.append(f"""
            SELECT id, occurred_at, type, status, actor.kind, actor.id, actor.name, action, event,
                   entity.type, entity.id, entity.label, versions, expired_at, removed_at
            FROM (
                SELECT *,
                       row_number() OVER (PARTITION BY id ORDER BY lpad(seq, 40, '0') DESC) AS newest,
                       count(DISTINCT seq) OVER (PARTITION BY id) AS versions,
                       max(CASE WHEN change = 'EXPIRE' THEN changed_at END) OVER (PARTITION BY id) AS expired_at,
                       max(CASE WHEN change = 'REMOVE' THEN changed_at END) OVER (PARTITION BY id) AS removed_at
                FROM read_json(?, format = 'newline_delimited', compression = 'gzip', hive_partitioning = true,
                               hive_types = {{'org': 'VARCHAR', 'date': 'DATE'}}, columns = {_struct(_COLUMNS)})
                WHERE org = ? AND date BETWEEN ? AND ? AND id BETWEEN ? AND ?
            )
            WHERE newest = 1 {"".join(f" AND {clause}" for clause in where)}
        """)
        # DuckDB decodes the partition's value: the path's percent-encoded org reads back as the org itself.
        parameters += [
            files,
            org,
            raw[0].date(),
            raw[1].date(),
            ids.lower_bound(raw[0]),
            ids.upper_bound(raw[1]),
            *values,
        ]
    if warm is not None and warm.files:
        # Flat columns, filtered inside read_parquet: DuckDB skips the row groups whose statistics rule them out.
        where, values = predicates(wanted, {})
        parts.append(f"""
            SELECT id, occurred_at, type, status, actor_kind, actor_id, actor_name, action, event,
                   entity_type, entity_id, entity_label, versions, expired_at, removed_at
            FROM read_parquet(?) WHERE id BETWEEN ? AND ? {"".join(f" AND {clause}" for clause in where)}
        """)
        parameters += [
            [location for location, _ in warm.files],
            ids.lower_bound(low),
            min(ids.upper_bound(high), ids.before(boundary(warm.through))),
            *values,
        ]
    if not parts:
        return []
    sql = f"{' UNION ALL '.join(parts)} ORDER BY id DESC {f'LIMIT {int(limit)}' if limit else ''}"
    connection = connection or duckdb.connect()
    found = connection.execute(sql, parameters).fetchall()
    # A week of a big org is ~50,000 rows: flat columns fetch several times faster than DuckDB's structs, and
    # the collector, left on, walks the rows again and again while they are built.
    paused = gc.isenabled()
    gc.disable()
    try:
        return [
            {
                "id": entry_id,
                "occurred_at": occurred_at,
                "type": kind,
                "status": status,
                "actor": {"kind": actor_kind, "id": actor_id, "name": actor_name},
                "action": action,
                "event": event,
                # As the API lists it: no entity when it has no fields, an empty label when it has none.
                "entity": None
                if entity_type is None and entity_id is None and entity_label is None
                else {"type": entity_type, "id": entity_id, "label": entity_label or ""},
                "versions": versions,
                "expired_at": expired_at,
                "removed_at": removed_at,
            }
            for (
                entry_id,
                occurred_at,
                kind,
                status,
                actor_kind,
                actor_id,
                actor_name,
                action,
                event,
                entity_type,
                entity_id,
                entity_label,
                versions,
                expired_at,
                removed_at,
            ) in found
        ]
    finally:
        if paused:
            gc.enable()


def _struct(columns: dict[str, str]) -> str:
    return (
        "{"
        + ", ".join(f"{json.dumps(name)}: {json.dumps(kind)}" for name, kind in columns.items()).replace('"', "'")
        + "}"
    )
