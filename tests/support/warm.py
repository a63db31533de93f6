"""The warm tier for tests of its readers: an org's archive compacted into its own bucket through a day.

``compact_through`` runs the compaction job's own ``compact`` over what the archive holds now and writes the
manifest's ``through`` (the shared contract: every entry that occurred up to that day is in the files).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterator, Optional

from activitylog.warm import compact
from activitylog.warm.compact import WarmFile


class CompactionBuckets:
    """The archive to read and the warm bucket to write, as the one bucket ``compact`` takes: ``warm/`` keys go
    to the warm bucket, the rest to the archive."""

    def __init__(self, archive: Any, warm: Any) -> None:
        self.archive, self.warm = archive, warm

    def _of(self, key: str) -> Any:
        return self.warm if key.startswith(compact.WARM_PREFIX) else self.archive

    def keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        return self._of(prefix).keys(prefix, start_after)

    def get(self, key: str) -> Optional[bytes]:
        return self._of(key).get(key)

    def put(self, key: str, body: bytes, content_type: str = "application/json", tag: Optional[str] = None) -> None:
        assert key.startswith(compact.WARM_PREFIX), f"compaction wrote {key} outside the warm tier"
        self.warm.put(key, body, content_type=content_type)


def compact_through(archive: Any, warm: Any, org: str, through: date, **options: Any) -> list[WarmFile]:
    """Compact ``org``'s archive (which must hold no entry after ``through``) into ``warm`` and say how far it got."""
    files = compact.compact(CompactionBuckets(archive, warm), org, **options)
    manifest = json.loads(warm.get(compact.manifest_key(org)))
    warm.put(compact.manifest_key(org), json.dumps({**manifest, "through": through.isoformat()}).encode())
    return files


class Reads:
    """A bucket that remembers the keys read from it."""

    def __init__(self, objects: Any) -> None:
        self.objects, self.read = objects, []

    def keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        return self.objects.keys(prefix, start_after)

    def get(self, key: str) -> Optional[bytes]:
        self.read.append(key)
        return self.objects.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.objects, name)
