"""The tiered design's measured inputs for the cost report: the warm tier's bytes per entry, compaction's
S3 requests and compute, and the S3 requests and bytes of a warm page.

A sample org (``--warm-entries`` over two years) is laid out as the archive keeps it by bench/warm.py's
seed, compacted by ``activitylog.warm.compact`` in a child process (its own time and peak memory, every
GET, LIST and PUT it makes counted; local disk, no S3 latency), then its files are put in a bucket on a
moto server and bench/warm.py's filter combinations are paged over the part older than the hot tier as
the API reads them (bench/warm_api.py's ``page_through``: ``WarmTier.page``, a fresh container's first page
then the following ones): every request its S3 client sends is counted (the manifest's GET, one ranged GET
per read DuckDB makes through ``S3Ranges``; no HEAD, a file's size is in the manifest)."""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Optional

from common import PAGE, log

ORG = "org_cost_warm"
BUCKET = "activitylog-cost-warm"


@dataclass(frozen=True)
class Warm:
    """Per entry and per page, measured on the sample (printed with the report)."""

    entries: int
    raw_objects: int
    raw_bytes: int
    parquet_bytes: int
    files: int
    seconds: float  # compaction's wall time, local disk
    peak_rss_mb: float  # compaction's own VmHWM
    gets: int  # compaction's S3 GETs (the raw objects and the check for an existing file)
    lists: int  # its LIST requests (1,000 keys each)
    puts: int  # its PUTs (the files and the manifest)
    page_requests: float  # S3 requests per warm page, mean over the combinations (manifest + ranged GETs)
    page_requests_max: float
    page_bytes: float  # bytes read per warm page, mean
    page_bytes_max: float
    page_ms: float  # WarmTier.page's time over the moto server, mean
    pages: int  # pages measured

    @property
    def bytes_per_entry(self) -> float:
        return self.parquet_bytes / self.entries

    @property
    def lambda_memory_mb(self) -> int:
        """Compaction's Lambda memory: its measured peak, rounded up to 128 MB steps (at least 128)."""
        return max(128, math.ceil(self.peak_rss_mb / 128) * 128)


class CountedBucket:
    """bench/warm.py's folder bucket, counting the S3 requests compaction would make."""

    def __init__(self, root: Path) -> None:
        from warm import Folder

        self.folder, self.gets, self.lists, self.puts = Folder(root), 0, 0, 0

    def keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        listed = list(self.folder.keys(prefix, start_after))
        self.lists += max(1, math.ceil(len(listed) / 1000))  # ListObjectsV2 returns up to 1,000 keys a request
        return iter(listed)

    def get(self, key: str) -> Optional[bytes]:
        self.gets += 1
        return self.folder.get(key)

    def put(self, key: str, body: bytes, content_type: str = "", tag: Optional[str] = None) -> None:
        self.puts += 1
        self.folder.put(key, body, content_type, tag)


def compact_child(root: str, org: str) -> None:
    """In the child: compact the org, print time, peak memory, requests and output as JSON."""
    from warm import peak_rss_mb

    from activitylog.warm import compact

    bucket = CountedBucket(Path(root))
    started = time.perf_counter()
    files = compact.compact(bucket, bucket, org, datetime.now(timezone.utc).date()).files  # a first, full compaction
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(), "files": len(files),
                      "rows": sum(f.rows for f in files), "bytes": sum(f.size for f in files),
                      "gets": bucket.gets, "lists": bucket.lists, "puts": bucket.puts}))


def warm_pages(root: Path, now: datetime, hot_days: int, days: int, tallies: dict, pages: int) -> list[dict]:
    """``pages`` pages of each of bench/warm.py's combinations over the warm part, read as the API reads them
    (bench/warm_api.py: ``WarmTier.page`` over S3 on a moto server, a fresh container's first page then the
    following ones): S3 requests (the manifest's GET and the range GETs), bytes, ms."""
    import os

    from export import moto_server
    from warm import combinations
    from warm_api import page_through, s3_client

    from activitylog import ids

    start, boundary = now - timedelta(days=days), now - timedelta(days=hot_days)
    users = tallies["user"].most_common()
    record = tallies["record"].most_common(1)[0][0]
    runs = [e[7] for e in tallies["entries"] if e[7] and e[0] < ids.lower_bound(boundary)]
    correlation = statistics.mode(runs)
    measured = []
    with moto_server() as url:
        os.environ["AWS_ENDPOINT_URL"] = url
        try:
            client = s3_client()
            client.create_bucket(Bucket=BUCKET)
            for path in (root / "warm").rglob("*"):
                if path.is_file():  # the compacted files and the manifest, as the job PUT them
                    client.put_object(Bucket=BUCKET, Key=str(path.relative_to(root)), Body=path.read_bytes())
            for name, params in combinations(start, boundary, users[0][0], users[len(users) // 2][0], record, correlation):
                for page in page_through(client, BUCKET, ORG, params, now, pages, 1)["pages"]:
                    measured.append({"combination": name, "ms": page["ms"], "requests": page["requests"],
                                     "bytes": page["bytes"] + page["manifest_bytes"], "rows": page["rows"]})
        finally:
            del os.environ["AWS_ENDPOINT_URL"]
    return measured


def measure(entries: int, hot_days: int, days: int, pages: int, seed: int, now: datetime) -> Warm:
    from warm import entry_pool
    from warm import seed as lay_out

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="cost-warm-") as folder:
        root = Path(folder)
        log(f"== Warm sample: {entries:,} entries over {days} days laid out as the archive keeps them (bench/warm.py's seed)")
        objects, tallies, _ = lay_out(rng, entry_pool(rng, 3000, now), ORG, entries, now - timedelta(days=days), now, 0.1, root, 0)
        raw_bytes = sum(p.stat().st_size for p in (root / "archive").rglob("*.jsonl.gz"))
        done = subprocess.run([sys.executable, __file__, "--compact", str(root), ORG], check=True, capture_output=True, text=True)
        c = json.loads(done.stdout.strip().splitlines()[-1])
        assert c["rows"] == entries, f"compacted {c['rows']} rows of {entries} entries"
        log(f"  compaction: {objects:,} raw objects ({raw_bytes / 1e6:.1f} MB gzip JSON) → {c['files']} Parquet files "
            f"({c['bytes'] / 1e6:.1f} MB) in {c['seconds']:.1f} s, peak RSS {c['peak_rss_mb']:.0f} MB; "
            f"S3 requests {c['gets']:,} GET, {c['lists']:,} LIST, {c['puts']:,} PUT")
        measured = warm_pages(root, now, hot_days, days, tallies, pages)
    full = [m for m in measured if m["rows"]]
    log(f"  warm pages: {len(measured)} pages of {PAGE} over {len(measured and {m['combination'] for m in measured})} "
        f"combinations older than {hot_days} days: {statistics.fmean(m['requests'] for m in measured):.1f} S3 requests and "
        f"{statistics.fmean(m['bytes'] for m in measured) / 1024:,.0f} KB per page (mean; max "
        f"{max(m['requests'] for m in measured)} and {max(m['bytes'] for m in measured) / 1024:,.0f} KB), "
        f"{statistics.fmean(m['ms'] for m in measured):.0f} ms per page (WarmTier.page over moto); {len(full)} of them returned rows")
    return Warm(
        entries=entries, raw_objects=objects, raw_bytes=raw_bytes, parquet_bytes=c["bytes"], files=c["files"],
        seconds=c["seconds"], peak_rss_mb=c["peak_rss_mb"], gets=c["gets"], lists=c["lists"], puts=c["puts"],
        page_requests=statistics.fmean(m["requests"] for m in measured),
        page_requests_max=max(m["requests"] for m in measured),
        page_bytes=statistics.fmean(m["bytes"] for m in measured),
        page_bytes_max=max(m["bytes"] for m in measured),
        page_ms=statistics.fmean(m["ms"] for m in measured), pages=len(measured),
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compact"]:
        compact_child(*sys.argv[2:4])
