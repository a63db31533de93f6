"""The archive with DuckDB: the entries of one org in a window, filtered like ``GET /activities``.

The archive's objects sit in a folder laid out as the bucket is (``layout``: hive partitions
``org=…/date=…``): on this machine the local stack's S3 folder, or the partitions ``mirror``
copied from a bucket. DuckDB reads the partition columns from the paths and opens only the
files of the org and the days asked for. Each entry answers with its latest archived version
(an entry that expired answers with its last content, and when it expired), newest first.

This is the support and compliance tool for entries the dashboard no longer shows; in AWS the
same question goes to Athena (template.yaml's ``ArchiveTable``, README "Querying the archive").
``query(folder, org, parse_list_request(params).filter, now)`` answers one row per entry (its
newest version), newest first, with when it expired or was removed.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Optional

from activitylog import ids
from activitylog.archive import layout
from activitylog.archive.lines import Line
from activitylog.archive.store import Objects, pack_lines, unpack_lines
from activitylog.query.filters import ActivityFilter

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


def days(low: datetime, high: datetime) -> list[str]:
    """The ``date=`` partitions a window touches (UTC days)."""
    found, day = [], low.date()
    while day <= high.date():
        found.append(day.isoformat())
        day += timedelta(days=1)
    return found


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


def query(
    root: Path, org: str, wanted: ActivityFilter, now: datetime, limit: Optional[int] = None, connection=None
) -> list[dict]:
    """The entries of ``org`` in ``root``'s archive matching ``wanted`` (window and the five axes), newest first.

    Each row holds the list columns of the entry's latest archived version, plus ``versions``,
    ``expired_at`` and ``removed_at``.
    """
    import duckdb

    low, high = wanted.window(now)
    files = str(Path(root) / layout.ARCHIVE_PREFIX / "*" / "*" / "*.jsonl.gz")
    if not list((Path(root) / layout.ARCHIVE_PREFIX).glob("*/*/*.jsonl.gz")):
        return []
    where, parameters = (
        [],
        [files, layout.org_part(org), low.date(), high.date(), ids.lower_bound(low), ids.upper_bound(high)],
    )
    if wanted.types:
        where.append(f"type IN ({', '.join('?' for _ in wanted.types)})")
        parameters += sorted(t.value for t in wanted.types)
    if wanted.statuses:
        where.append(f"status IN ({', '.join('?' for _ in wanted.statuses)})")
        parameters += sorted(s.value for s in wanted.statuses)
    if wanted.user:
        where.append("actor.kind = 'user' AND actor.id = ?")
        parameters.append(wanted.user)
    if wanted.entity_type:
        where.append("entity.type = ?")
        parameters.append(wanted.entity_type)
    if wanted.entity_id:
        where.append("entity.id = ?")
        parameters.append(wanted.entity_id)
    sql = f"""
        WITH versions AS (
            SELECT * FROM read_json(?, format = 'newline_delimited', compression = 'gzip', hive_partitioning = true,
                                    hive_types = {{'org': 'VARCHAR', 'date': 'DATE'}}, columns = {_struct(_COLUMNS)})
            WHERE org = ? AND date BETWEEN ? AND ? AND id BETWEEN ? AND ?
        ),
        latest AS (
            SELECT *,
                   row_number() OVER (PARTITION BY id ORDER BY lpad(seq, 40, '0') DESC) AS newest,
                   count(DISTINCT seq) OVER (PARTITION BY id) AS versions,
                   max(CASE WHEN change = 'EXPIRE' THEN changed_at END) OVER (PARTITION BY id) AS expired_at,
                   max(CASE WHEN change = 'REMOVE' THEN changed_at END) OVER (PARTITION BY id) AS removed_at
            FROM versions
        )
        SELECT id, occurred_at, type, status, actor, action, event, entity, versions, expired_at, removed_at
        FROM latest WHERE newest = 1 {"".join(f" AND {clause}" for clause in where)}
        ORDER BY id DESC {f"LIMIT {int(limit)}" if limit else ""}
    """
    connection = connection or duckdb.connect()
    cursor = connection.execute(sql, parameters)
    names = [column[0] for column in cursor.description]
    return [_row(dict(zip(names, values, strict=True))) for values in cursor.fetchall()]


def _struct(columns: dict[str, str]) -> str:
    return (
        "{"
        + ", ".join(f"{json.dumps(name)}: {json.dumps(kind)}" for name, kind in columns.items()).replace('"', "'")
        + "}"
    )


def _row(row: dict) -> dict:
    """A row as the API lists an entry (an entity with no fields is none)."""
    if row["entity"] is not None and all(value is None for value in row["entity"].values()):
        row["entity"] = None
    if row["entity"] is not None and row["entity"].get("label") is None:
        row["entity"]["label"] = ""
    return row
