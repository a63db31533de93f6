"""A page of the warm tier: the entries of an org's Parquet files matching a filter, newest first.

The files are read newest month first, and in each its newest row group, then the rest, with the window (and the cursor's last id) as an id range and every filter axis as a
plain predicate, so DuckDB skips the row groups whose id, type, status, actor, entity or
correlation id statistics or bloom filters cannot match; the page stops as soon as it is full. Removed entries are not listed (their rows stay for support).
A file whose manifest summary lacks the filter's user, type, status, entity type or user x type
pair is skipped without being opened (``may_match``), so a filter that matches nothing reads
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from activitylog import ids
from activitylog.query.filters import ActivityFilter
from activitylog.warm.compact import WarmFile, row_groups

LISTED = (
    "id, occurred_at, type, status, actor_kind, actor_id, actor_name, action, event, "
    "entity_type, entity_id, entity_label, correlation_id, trace_id"
)


@dataclass
class WarmPage:
    rows: list[dict]
    files_read: int
    last_id: Optional[str] = None  # where the next page starts (exclusive); None: nothing older


def predicates(wanted: ActivityFilter, columns: Optional[dict[str, str]] = None) -> tuple[list[str], list[Any]]:
    """The filter's five axes, correlation id and trace id as SQL, with their parameters: over the warm files' flat columns,
    or where ``columns`` says each is (the raw archive's lines nest actor and entity: ``actor.id``)."""

    def column(name: str) -> str:
        return (columns or {}).get(name, name)

    where: list[str] = []
    parameters: list[Any] = []
    if wanted.types:
        where.append(f"type IN ({', '.join('?' for _ in wanted.types)})")
        parameters += sorted(t.value for t in wanted.types)
    if wanted.statuses:
        where.append(f"status IN ({', '.join('?' for _ in wanted.statuses)})")
        parameters += sorted(s.value for s in wanted.statuses)
    for name, value in (
        ("actor_id", wanted.user),
        ("entity_type", wanted.entity_type),
        ("entity_id", wanted.entity_id),
        ("correlation_id", wanted.correlation_id),
        ("trace_id", wanted.trace_id),
    ):
        if value:
            where.append(f"{column(name)} = ?")
            parameters.append(value)
    if wanted.user:
        where.append(f"{column('actor_kind')} = 'user'")
    return where, parameters


def may_match(meta: WarmFile, wanted: ActivityFilter) -> bool:
    """False when the file's summary shows it holds no entry the filter wants (an unknown axis: True)."""

    def absent(axis: str, values: list[str]) -> bool:
        known = meta.summary.get(axis)
        return known is not None and not set(values) & set(known)

    types = [t.value for t in wanted.types]
    if types and absent("types", types):
        return False
    if wanted.statuses and absent("statuses", [s.value for s in wanted.statuses]):
        return False
    if wanted.entity_type and absent("entity_types", [wanted.entity_type]):
        return False
    if wanted.user and absent("users", [wanted.user]):
        return False
    return not (wanted.user and types and absent("user_types", [f"{t} {wanted.user}" for t in types]))


def newest_first(
    files: list[tuple[str, WarmFile]],
    wanted: ActivityFilter,
    now: datetime,
    limit: int,
    before: Optional[str] = None,
    connection: Any = None,
) -> WarmPage:
    """Up to ``limit`` entries of the filter's window older than ``before`` (an id; None: from the window's end)."""
    low, high = wanted.window(now)
    high_id = ids.upper_bound(high)
    if before is not None:
        high_id = min(high_id, ids.before(before))
    return read_range(files, wanted, ids.lower_bound(low), high_id, limit, connection)


def read_range(
    files: list[tuple[str, WarmFile]],
    wanted: ActivityFilter,
    low_id: str,
    high_id: str,
    limit: int,
    connection: Any = None,
    all_columns: bool = False,
) -> WarmPage:
    """Up to ``limit`` entries with ids in [low_id, high_id] from ``files`` (where each is read from, and what
    the manifest says of it), newest first; ``all_columns``: every column (an export's, the detail's)."""
    import duckdb

    connection = connection or duckdb.connect()
    columns = "*" if all_columns else LISTED
    where, parameters = predicates(wanted)
    rows: list[dict] = []
    read = 0
    for location, meta in sorted(files, key=lambda pair: pair[1].max_id, reverse=True):
        if meta.max_id < low_id or meta.min_id > high_id or not may_match(meta, wanted):
            continue
        read += 1
        # The newest row group first, then the rest of the file at once: DuckDB's top-N reads the id column
        # of every row group in the range it is given (bytes growing with the file), and each query reads
        # the footer again (so no more than two). The manifest holds the groups' ranges (no footer read here).
        ranges = meta.groups or row_groups(connection, location)
        groups = [g for g in ranges if g[1] >= low_id and g[0] <= high_id]
        spans = [groups[:1], groups[1:]]
        for span in spans:
            if not span or len(rows) >= limit:
                continue
            lowest, highest = max(low_id, span[-1][0]), min(high_id, span[0][1])
            sql = (
                f"SELECT {columns} FROM read_parquet(?) WHERE id BETWEEN ? AND ? AND removed_at IS NULL"
                f"{''.join(f' AND {clause}' for clause in where)} ORDER BY id DESC LIMIT {int(limit - len(rows))}"
            )
            cursor = connection.execute(sql, [location, lowest, highest, *parameters])
            names = [column[0] for column in cursor.description]
            rows += [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        if len(rows) >= limit:
            break
    return WarmPage(rows, read, rows[-1]["id"] if len(rows) >= limit else None)
