"""The warm tier for tests of its readers: an org's archive compacted into its own bucket through a day.

``compact_through`` runs the compaction job's own ``compact`` up to a day.
"""

from __future__ import annotations

from datetime import date
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
