"""The warm tier as the API reads it: an org's compacted entries, older than the table's.

Every list, detail, chain and export reads the table for ids at or above the org's
*boundary* and this tier below it (``service.ActivityService.read_page``). The boundary is
the first instant the manifest does not cover (``through`` + 1 day, 00:00 UTC), so a page
sees each entry exactly once whatever moves while a user pages:

- compaction writes an entry's files before the manifest names them, and the manifest's
  ``through`` only grows, so every id below the boundary is in the files it lists;
- the table keeps an entry ``hot_table_days`` + ``retention_policy.TABLE_GRACE_DAYS`` (7) after it
  occurred, while compaction takes it ``hot_table_days`` + 2 days after: every id at or above the
  boundary is still in the table (compaction late by more than 5 days would leave a gap: its
  ``CompactionBehindAlarm`` and error alarm fire first);
- a cursor holds an id, and the next page starts below it in whichever tier holds it then.

A file is read in place through S3 range requests (``s3_ranges``): DuckDB reads its footer,
then only the row groups whose statistics can match (``warm.page``).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional

from activitylog.entry import Entry, EntryType, Status
from activitylog.query.filters import ActivityFilter
from activitylog.query.merge import Page

if TYPE_CHECKING:
    from activitylog.warm.compact import Manifest, WarmFile

MANIFEST_SECONDS = 60.0  # how long a container trusts what it read of an org's manifest


def s3_ranges(client: Any, bucket: str, sizes: dict[str, int]) -> Any:
    """An fsspec file system over S3 range GETs of the warm bucket, for DuckDB (``register_filesystem``): only
    what DuckDB asks of a Parquet file, its size (from the manifest, no HEAD) and reads at offsets. Built on
    first use: fsspec costs a cold start ~35 ms that a function never reading the warm tier should not pay."""
    return _s3_ranges_class()(client, bucket, sizes)


@functools.cache
def _s3_ranges_class() -> type:
    from fsspec import AbstractFileSystem  # type: ignore[import-untyped]

    class S3Ranges(AbstractFileSystem):
        protocol = "warm"
        cachable = False  # fsspec caches instances by arguments: each container keeps its own

        def __init__(self, client: Any, bucket: str, sizes: dict[str, int]) -> None:
            super().__init__()
            self.client, self.bucket, self.sizes = client, bucket, sizes
            self.requests = self.bytes = 0
            self.lock = threading.Lock()

        def info(self, path: str, **kwargs: Any) -> dict:
            key = self._strip_protocol(path)
            return {"name": key, "size": self.sizes[key], "type": "file"}

        def modified(self, path: str) -> datetime:
            return _NEVER_CHANGED  # a file's key is its content's hash: it never changes

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            return _Handle(self, self._strip_protocol(path))

    return S3Ranges


_NEVER_CHANGED = datetime(2026, 1, 1, tzinfo=timezone.utc)


class _Handle:
    """A file's reads at offsets; each thread keeps its own position, as DuckDB's threads share a handle."""

    def __init__(self, fs: Any, key: str) -> None:
        self.fs, self.key, self.size, self.local = fs, key, fs.sizes[key], threading.local()

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.tell(), 2: self.size}[whence]
        self.local.at = base + offset
        return self.local.at

    def tell(self) -> int:
        return getattr(self.local, "at", 0)

    def read(self, size: int = -1) -> bytes:
        at = self.tell()
        end = self.size if size is None or size < 0 else min(self.size, at + size)
        if end <= at:
            return b""
        data = self.fs.client.get_object(Bucket=self.fs.bucket, Key=self.key, Range=f"bytes={at}-{end - 1}")[
            "Body"
        ].read()
        self.local.at = at + len(data)
        with self.fs.lock:
            self.fs.requests += 1
            self.fs.bytes += len(data)
        return data

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Handle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class WarmTier:
    """An org's warm entries: its manifest (cached ``MANIFEST_SECONDS``), pages, and one entry by id."""

    def __init__(self, objects: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.objects = objects  # archive.store.S3Objects of the warm bucket
        self.clock = clock
        self._manifests: dict[str, tuple[float, Manifest]] = {}
        self._blooms: dict[str, bytes] = {}  # a file's correlation ids' filter, by the file's key (never changes)
        self._connection: Any = None
        self._files: Any = None
        self._lock = threading.Lock()

    def manifest(self, org: str) -> Manifest:
        now = self.clock()
        seen = self._manifests.get(org)
        if seen is None or now - seen[0] > MANIFEST_SECONDS:
            from activitylog.warm.compact import read_manifest

            seen = (now, read_manifest(self.objects, org))
            self._manifests[org] = seen
        return seen[1]

    def boundary(self, org: str) -> str:
        return self.manifest(org).boundary

    def page(self, org: str, wanted: ActivityFilter, low_id: str, high_id: str, limit: int, detail: bool) -> Page:
        """The newest ``limit`` entries with ids in [low_id, high_id] matching ``wanted``; ``position`` set when
        more may follow (the last id returned)."""
        from activitylog.warm.page import read_range

        files = [f for f in self.manifest(org).files if f.max_id >= low_id and f.min_id <= high_id]
        if wanted.correlation_id:
            files = self._holding(files, wanted.correlation_id)
        connection = self._connect(files)
        try:
            found = read_range(
                [(f"warm://{f.key}", f) for f in files], wanted, low_id, high_id, limit + 1, connection, detail
            )
        finally:
            connection.close()
        items = [entry_of(row) for row in found.rows[:limit]]
        more = len(found.rows) > limit
        return Page(items, items[-1].id if more else None, len(found.rows), 0.0, found.files_read)

    def get(self, org: str, entry_id: str) -> Optional[Entry]:
        page = self.page(org, ActivityFilter(), entry_id, entry_id, 1, detail=True)
        return page.items[0] if page.items else None

    def _holding(self, files: list[WarmFile], chain: str) -> list[WarmFile]:
        """The files whose correlation ids' Bloom filter may hold ``chain`` (each filter read once per container, in
        parallel: a chain's page over two years looks at every file's)."""
        from concurrent.futures import ThreadPoolExecutor

        from activitylog.warm import bloom
        from activitylog.warm.compact import correlations_key

        missing = [f.key for f in files if f.correlations and f.key not in self._blooms]
        if missing:
            with ThreadPoolExecutor(max_workers=16) as pool:
                found = pool.map(lambda key: self.objects.get(correlations_key(key)), missing)
                self._blooms.update({key: made for key, made in zip(missing, found, strict=True) if made is not None})
        return [f for f in files if f.key not in self._blooms or bloom.may_hold(self._blooms[f.key], chain)]

    def _connect(self, files: list[WarmFile]) -> Any:
        """A cursor of the container's one DuckDB connection: its file system and Parquet footers outlive a page
        (a file's key is its content's hash, so a footer read once stays true)."""
        with self._lock:
            if self._connection is None:
                import duckdb

                self._connection = duckdb.connect()
                self._connection.execute("SET parquet_metadata_cache = true")
                self._files = s3_ranges(self.objects.client, self.objects.bucket, {})
                self._connection.register_filesystem(self._files)
            self._files.sizes.update({f.key: f.size for f in files})
            return self._connection.cursor()  # one per page: a connection's cursors may run in parallel threads


def entry_of(row: dict) -> Entry:
    """An entry from a warm file's row (the flat columns ``warm.compact`` writes)."""
    actor = {"kind": row["actor_kind"], "id": row["actor_id"], "name": row["actor_name"]}
    entity = None
    if row.get("entity_type") is not None:
        entity = {"type": row["entity_type"], "id": row["entity_id"], "label": row["entity_label"]}
    return Entry(
        id=row["id"],
        type=EntryType(row["type"]),
        status=Status(row["status"]),
        actor=actor,
        action=row["action"],
        event=row["event"],
        entity=entity,
        recorded_at=_time(row.get("recorded_at")),
        expires_at=row.get("expires_at"),
        changes=_json(row.get("changes")) or {},
        metadata=_json(row.get("metadata")) or {},
        error=_json(row.get("error")),
        correlation_id=row.get("correlation_id"),
        trace_id=row.get("trace_id"),
        span_id=row.get("span_id"),
        retry_of=row.get("retry_of"),
        source=_json(row.get("source")),
        recorded_by=row.get("recorded_by"),
        finished_at=_time(row.get("finished_at")),
        sequence=row.get("sequence"),
        version=row.get("version") or 1,
        detail_missing=bool(row.get("detail_unavailable")),
    )


def _json(text: Optional[str]) -> Any:
    return json.loads(text) if text else None


def _time(text: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
