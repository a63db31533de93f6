"""The warm tier for tests of its readers: an org's archive compacted into its own bucket through a day.

``compact_through`` runs the compaction job's own ``compact`` up to a day.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Optional

from activitylog.warm import compact
from activitylog.warm.compact import WarmFile


def compact_through(archive: Any, warm: Any, org: str, through: date, **options: Any) -> list[WarmFile]:
    """Compact ``org``'s archive up to ``through`` into ``warm`` (the compaction job's own ``compact``)."""
    return compact.compact(archive, warm, org, through, **options).files


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


class FolderBucket:
    """A bucket kept as files, one per key (as ``activitylog_local.archive.FolderObjects`` reads a stopped stack's),
    that also takes writes: each lands whole (written aside, then renamed), then waits ``pause`` seconds, so a
    process writing it can be killed between two writes."""

    def __init__(self, root: Path, pause: float = 0.0) -> None:
        from activitylog_local.archive import FolderObjects

        self.root, self.pause, self.folder = root, pause, FolderObjects(root)

    def keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        return (key for key in self.folder.keys(prefix, start_after) if not key.endswith(".part"))

    def get(self, key: str) -> Optional[bytes]:
        return self.folder.get(key)

    def put(self, key: str, body: bytes, content_type: str = "", tag: Optional[str] = None) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(path.name + ".part")
        aside.write_bytes(body)
        os.replace(aside, path)
        time.sleep(self.pause)
