"""Warm-tier pages through the API's read path: ``WarmTier.page`` reading an org's files from S3 (a moto server).

Run by hand, never by ``make test``. Issue 20's warm-page figure, measured as the query function reads:

1. **Seed**: bench/warm.py's seed (``warm.seed``), ``--entries`` entries of one org and ``--small`` of
   another over ``--days`` days, laid out as the archive keeps them (gzip JSON lines, one object per org and
   hour) in a folder.
2. **Compaction**: ``activitylog.warm.compact.compact(archive, warm, org, through)`` in a child process, the
   archive bucket a folder (bench/warm.py's ``Folder``) and the warm bucket S3 on the moto server: the files
   and the manifest are PUT as the job PUTs them. Every archived day is compacted, so the window below is warm.
3. **Pages** of 50, newest first, for bench/warm.py's filter combinations over the part older than
   ``--hot-days``, through ``activitylog.warm.tier.WarmTier.page`` (what ``ActivityService.read_page`` calls
   for ids below the org's boundary): the manifest read from S3, the Parquet files through DuckDB and
   ``S3Ranges``, each read one ranged GetObject (a real HTTP request to the moto server on 127.0.0.1).
   Each repetition is a fresh container (a new ``WarmTier``: no manifest, no DuckDB connection, no footer cache)
   for the first page, then ``--pages`` − 1 more pages following the position (``ids.before(position)``, as
   the cursor does) in that same, now warm, container. Per page: latency, S3 requests (every HTTP request the
   client sends: the manifest's GET and the range GETs), bytes of the Parquet files (the ranged GET bodies),
   files read; the manifest's bytes apart (a fresh container's first page GETs it, then it is cached
   60 s: it grows with the org's files, not with the page). Every page is checked against a direct read of
   the seed. Growth = Parquet bytes per page of the big org ÷ the small one's, per combination (target ≤ 1.5×).
4. **Baseline** (the same run): each combination's first page from the raw archive through ``activitylog
   archive query``'s ``query`` (DuckDB over the gzip JSON objects, pruned by org and day; local folder) over one
   month of the warm part (over two years it would parse every object), against a fresh container's
   ``WarmTier.page`` over the same month (same ids checked).

The moto server is ``python -m moto.server`` on a free loopback port in a process of its own (bench/export.py's
``moto_server``: the server application ``ThreadedMotoServer`` and the local stack run), so its CPU is not
the reader's. moto answers a GET in about a millisecond on this machine; S3 takes 10-30 ms for the first
byte, so S3's own latency is not in these times (the request counts say what it would add). The last line
is one JSON object of the named figures.

    .venv/bin/python bench/warm_api.py                                        # 1,000,000 and 200,000: 9-15 min on 2 shared cores
    .venv/bin/python bench/warm_api.py --entries 20000 --small 5000 --repeats 1   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from common import PAGE, iso, log, percentile

BIG, SMALL = "org_warm_big", "org_warm_small"
BUCKET = "activitylog-warm-bench"
TARGET_P95_MS = 1500
TARGET_GROWTH = 1.5


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries of the big org (default 1000000)")
    parser.add_argument("--small", type=int, default=200_000, help="entries of the smaller org (default 200000)")
    parser.add_argument("--days", type=int, default=730, help="days the entries span (default 730)")
    parser.add_argument("--hot-days", type=int, default=90, help="the newest days, the table's (default 90)")
    parser.add_argument("--modified", type=float, default=0.1, help="share of entries with a second version")
    parser.add_argument("--pages", type=int, default=3, help="pages per combination and container: the first fresh, the rest warm")
    parser.add_argument("--repeats", type=int, default=3, help="fresh containers per combination (latency samples)")
    parser.add_argument("--pool", type=int, default=3000, help="distinct generated entries the seed reuses")
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--compact", nargs=4, metavar=("ROOT", "ORG", "THROUGH", "BUCKET"), help=argparse.SUPPRESS)
    return parser.parse_args()


# --- the warm bucket on the moto server -------------------------------------------------------------------------


def s3_client() -> Any:
    """A client of the moto server (``AWS_ENDPOINT_URL``), counting every request it sends."""
    import boto3

    client = boto3.client("s3")
    client.sent = 0  # type: ignore[attr-defined]

    def count(**kwargs: Any) -> None:
        client.sent += 1  # type: ignore[attr-defined]

    client.meta.events.register("before-send.s3", count)
    return client


class CountedObjects:
    """The warm bucket as ``WarmTier`` reads it (``archive.store.S3Objects``), the manifest's bytes counted."""

    def __init__(self, client: Any, bucket: str) -> None:
        from activitylog.archive.store import S3Objects

        self.s3 = S3Objects(bucket, client)
        self.client, self.bucket, self.bytes = client, bucket, 0

    def get(self, key: str) -> Optional[bytes]:
        body = self.s3.get(key)
        self.bytes += len(body or b"")
        return body

    def keys(self, prefix: str, start_after: Optional[str] = None):
        return self.s3.keys(prefix, start_after)


def compact_child(root: str, org: str, through: str, bucket: str) -> None:
    """In the child: compact one org from the folder archive into the warm bucket on S3; its figures as JSON."""
    from datetime import date

    from warm import Folder, peak_rss_mb

    from activitylog.archive.store import S3Objects
    from activitylog.warm import compact

    started = time.perf_counter()
    files = compact.compact(Folder(Path(root)), S3Objects(bucket), org, date.fromisoformat(through)).files
    print(json.dumps({"seconds": time.perf_counter() - started, "files": len(files), "rows": sum(f.rows for f in files),
                      "bytes": sum(f.size for f in files), "peak_rss_mb": peak_rss_mb()}))


def compact_org(root: Path, org: str, through: str, bucket: str) -> dict:
    command = [sys.executable, __file__, "--compact", str(root), org, through, bucket]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)  # its errors show
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- pages -----------------------------------------------------------------------------------------------------


def page_through(client: Any, bucket: str, org: str, params: dict, now: datetime, pages: int, repeats: int) -> dict:
    """``repeats`` fresh containers, each reading up to ``pages`` pages of 50 through ``WarmTier.page``."""
    from activitylog import ids
    from activitylog.query.filters import parse_list_request
    from activitylog.warm.tier import WarmTier

    wanted = parse_list_request(params).filter
    low, high = wanted.window(now)
    low_id, window_high = ids.lower_bound(low), ids.upper_bound(high)
    measured, first_ids = [], None
    for repeat in range(repeats):
        objects = CountedObjects(client, bucket)
        tier = WarmTier(objects)  # a fresh container: no manifest, no connection, no footer read yet
        high_id, found = window_high, []
        for number in range(pages):
            sent, manifest_bytes = client.sent, objects.bytes
            ranges = (tier._files.requests, tier._files.bytes) if tier._files is not None else (0, 0)
            started = time.perf_counter()
            page = tier.page(org, wanted, low_id, high_id, PAGE, detail=False)
            ms = (time.perf_counter() - started) * 1000
            measured.append({"repeat": repeat, "page": number, "ms": ms, "requests": client.sent - sent,
                             "range_gets": tier._files.requests - ranges[0],
                             "bytes": tier._files.bytes - ranges[1], "manifest_bytes": objects.bytes - manifest_bytes,
                             "files": page.queries, "rows": len(page.items)})
            found += [entry.id for entry in page.items]
            if page.position is None:
                break
            high_id = ids.before(page.position)  # where the cursor resumes
        if first_ids is None:
            first_ids = found
        assert found == first_ids, f"{org} {params}: a repetition read other entries"
    return {"pages": measured, "ids": first_ids}


def summary(run: dict) -> dict:
    pages = run["pages"]
    first = [p for p in pages if p["page"] == 0]
    following = [p for p in pages if p["page"] > 0]
    return {
        "p50_ms": round(percentile([p["ms"] for p in pages], 50), 1),
        "p95_ms": round(percentile([p["ms"] for p in pages], 95), 1),
        "first_page_p50_ms": round(percentile([p["ms"] for p in first], 50), 1),
        "following_p50_ms": round(percentile([p["ms"] for p in following], 50), 1) if following else None,
        "kb_per_page": round(statistics.fmean(p["bytes"] for p in pages) / 1024, 1),  # the Parquet's range GETs
        "first_page_kb": round(statistics.fmean(p["bytes"] for p in first) / 1024, 1),
        "manifest_kb": round(statistics.fmean(p["manifest_bytes"] for p in first) / 1024, 1),  # a fresh container's GET
        "files_per_page": round(statistics.fmean(p["files"] for p in pages), 2),
        "requests_per_page": round(statistics.fmean(p["requests"] for p in pages), 1),
        "first_page_requests": round(statistics.fmean(p["requests"] for p in first), 1),
        "following_requests": round(statistics.fmean(p["requests"] for p in following), 1) if following else None,
        "rows": len(run["ids"]),
        "pages_measured": len(pages),
    }


def main() -> None:
    args = arguments()
    if args.compact:
        compact_child(*args.compact)
        return
    from export import moto_server
    from warm import baseline_page as raw_page
    from warm import combinations, entry_pool, expected_ids, seed

    from activitylog import ids

    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start, boundary = now - timedelta(days=args.days), now - timedelta(days=args.hot_days)
    log(f"bench/warm_api.py · {args.entries:,} + {args.small:,} entries over {args.days} days · warm part older than "
        f"{args.hot_days} days · {args.pages} pages × {args.repeats} fresh containers per combination · seed {args.seed}")
    began = time.perf_counter()
    figures: dict[str, Any] = {"entries": args.entries, "small_entries": args.small, "days": args.days,
                               "hot_days": args.hot_days, "pages_per_container": args.pages, "containers": args.repeats,
                               "storage": "S3 on a moto server (python -m moto.server, own process) on 127.0.0.1; "
                                          "raw archive baseline on local disk"}
    with tempfile.TemporaryDirectory(prefix="warm-api-bench-") as folder, moto_server() as url:
        os.environ["AWS_ENDPOINT_URL"] = url  # this process's clients and the compaction children
        root = Path(folder)
        client = s3_client()
        client.create_bucket(Bucket=BUCKET)
        pool = entry_pool(rng, args.pool, now)
        seq, tallies = 0, {}
        log("\n1. seed (bench/warm.py's) and 2. compaction into the warm bucket on S3 (one child per org)")
        for org, count in ((BIG, args.entries), (SMALL, args.small)):
            laid = time.perf_counter()
            objects, tallies[org], seq = seed(rng, pool, org, count, start, now, args.modified, root, seq)
            log(f"  {org}: {count:,} entries in {objects:,} archive objects, laid out in {time.perf_counter() - laid:.0f} s")
            from warm import Folder

            from activitylog.warm.compact import archived_days

            through = archived_days(Folder(root), org)[-1]
            c = compact_org(root, org, through, BUCKET)
            assert c["rows"] == count, f"{org}: compacted {c['rows']} rows of {count} entries"
            log(f"  {org}: compacted through {through} into s3://{BUCKET}: {c['files']} files, {c['bytes'] / 1e6:.1f} MB, "
                f"{c['seconds']:.1f} s, peak RSS {c['peak_rss_mb']:.0f} MB")
            figures.setdefault("compaction", {})[org] = {k: round(v, 2) if isinstance(v, float) else v for k, v in c.items()}

        users = tallies[BIG]["user"].most_common()
        heavy, week_user = users[0][0], users[len(users) // 2][0]
        record = tallies[BIG]["record"].most_common(1)[0][0]
        from collections import Counter

        runs = Counter(e[7] for e in tallies[BIG]["entries"] if e[7] and e[0] < ids.lower_bound(boundary))
        correlation = runs.most_common(1)[0][0]
        log(f"\n3. pages of {PAGE} through WarmTier.page over S3 (moto on {url}), the warm part {iso(start)} to "
            f"{iso(boundary)}; per page: latency, S3 requests (manifest + range GETs), bytes, files")
        log(f"  {'combination':<50}{'org':>6}{'p50':>7}{'p95':>7}{'1st p50':>8}{'next p50':>9}{'KB/pg':>7}"
            f"{'req/pg':>7}{'files':>6}{'rows':>5}{'growth':>7}")
        pages: dict[str, dict] = {}
        mismatches: list[str] = []
        for org in (BIG, SMALL):
            for name, params in combinations(start, boundary, heavy, week_user, record, correlation):
                run = page_through(client, BUCKET, org, params, now, args.pages, args.repeats)
                want = expected_ids(tallies[org]["entries"], params, now, args.pages * PAGE)
                if run["ids"] != want[:len(run["ids"])] or (len(run["ids"]) < args.pages * PAGE and run["ids"] != want):
                    mismatches.append(f"{org}: {name}")
                pages.setdefault(name, {})[org] = row = summary(run)
                growth = f"{pages[name][BIG]['kb_per_page'] / max(row['kb_per_page'], 0.1):.2f}×" if org == SMALL else ""
                following = f"{row['following_p50_ms']:.0f}" if row["following_p50_ms"] is not None else "-"
                log(f"  {name[:49]:<50}{org[9:]:>6}{row['p50_ms']:>7.0f}{row['p95_ms']:>7.0f}{row['first_page_p50_ms']:>8.0f}"
                    f"{following:>9}{row['kb_per_page']:>7.0f}{row['requests_per_page']:>7.1f}{row['files_per_page']:>6.2f}"
                    f"{row['rows']:>5}{growth:>7}")
        log("  KB/pg: the Parquet's range GETs per page; each fresh container's first page also GETs the manifest: "
            + ", ".join(f"{org} {pages[next(iter(pages))][org]['manifest_kb']:,.0f} KB" for org in (BIG, SMALL)))
        for by_org in pages.values():
            by_org["bytes_growth"] = round(by_org[BIG]["kb_per_page"] / max(by_org[SMALL]["kb_per_page"], 0.1), 2)

        month_low = boundary - timedelta(days=120)
        month_high = month_low + timedelta(days=30)
        log(f"\n4. baseline: the first page from the raw archive (archive query's query, local folder) against a fresh "
            f"container's WarmTier.page (S3), both over one month ({iso(month_low)} to {iso(month_high)}), {BIG}")
        log(f"  {'combination':<50}{'raw ms':>8}{'raw KB':>8}{'warm ms':>8}{'warm KB':>8}{'req':>5}{'same':>5}")
        baseline: dict[str, dict] = {}
        for name, params in combinations(month_low, month_high, heavy, week_user, record, correlation):
            if "correlation_id" in params:
                continue  # archive query's reader has no correlation id filter
            params = dict(params, **{"from": iso(month_low), "to": iso(month_high)})
            raw = raw_page(root, BIG, params, now)
            warm = page_through(client, BUCKET, BIG, params, now, 1, 1)
            same = raw["ids"] == warm["ids"]
            if not same:
                mismatches.append(f"baseline month: {name}")
            w = warm["pages"][0]
            baseline[name] = {"raw_ms": round(raw["ms"], 1), "raw_kb": round(raw["bytes"] / 1024, 1),
                              "warm_ms": round(w["ms"], 1), "warm_kb": round((w["bytes"] + w["manifest_bytes"]) / 1024, 1), "warm_requests": w["requests"]}
            b = baseline[name]
            log(f"  {name[:49]:<50}{b['raw_ms']:>8.0f}{b['raw_kb']:>8.0f}{b['warm_ms']:>8.0f}{b['warm_kb']:>8.0f}"
                f"{b['warm_requests']:>5}{'yes' if same else 'NO':>5}")

    every = [p for name in pages for org in (BIG, SMALL) for p in [pages[name][org]]]
    worst = max(pages, key=lambda n: max(pages[n][BIG]["p95_ms"], pages[n][SMALL]["p95_ms"]))
    figures.update({
        "warm_api_p95_ms_max": max(p["p95_ms"] for p in every),
        "warm_api_p95_ms_worst": worst,
        "warm_api_p50_ms_median_1m": round(statistics.median(pages[n][BIG]["p50_ms"] for n in pages), 1),
        "warm_api_p95_ms_median_1m": round(statistics.median(pages[n][BIG]["p95_ms"] for n in pages), 1),
        "warm_api_kb_per_page_max": max(p["kb_per_page"] for p in every),
        "manifest_kb": {org: pages[next(iter(pages))][org]["manifest_kb"] for org in (BIG, SMALL)},
        "warm_api_files_per_page_max": max(p["files_per_page"] for p in every),
        "warm_api_requests_per_page_mean": round(statistics.fmean(p["requests_per_page"] for p in every), 1),
        "warm_api_requests_per_page_mean_1m": round(statistics.fmean(pages[n][BIG]["requests_per_page"] for n in pages), 1),
        "warm_api_requests_per_page_max": max(p["requests_per_page"] for p in every),
        "bytes_growth_max": max(pages[n]["bytes_growth"] for n in pages),
        "bytes_growth_worst": max(pages, key=lambda n: pages[n]["bytes_growth"]),
        "bytes_growth": {n: pages[n]["bytes_growth"] for n in pages},
        "baseline_month_raw_ms_median": round(statistics.median(b["raw_ms"] for b in baseline.values()), 1),
        "baseline_month_warm_ms_median": round(statistics.median(b["warm_ms"] for b in baseline.values()), 1),
        "baseline_month_raw_kb_median": round(statistics.median(b["raw_kb"] for b in baseline.values()), 1),
        "baseline_month_warm_kb_median": round(statistics.median(b["warm_kb"] for b in baseline.values()), 1),
        "targets": {"p95_ms": TARGET_P95_MS, "bytes_growth": TARGET_GROWTH},
        "targets_met": {"p95": max(p["p95_ms"] for p in every) <= TARGET_P95_MS,
                        "bytes_growth": max(pages[n]["bytes_growth"] for n in pages) <= TARGET_GROWTH,
                        "results_match": not mismatches},
        "mismatches": mismatches,
        "pages": pages,
        "baseline_month": baseline,
        "seconds": round(time.perf_counter() - began),
    })
    log(f"\n== warm p95 max {figures['warm_api_p95_ms_max']} ms ({worst}; target {TARGET_P95_MS}); bytes growth "
        f"{BIG} ÷ {SMALL} max {figures['bytes_growth_max']}× ({figures['bytes_growth_worst']}; target {TARGET_GROWTH}×); "
        f"{figures['warm_api_requests_per_page_mean']} S3 requests per page (mean); month page median raw "
        f"{figures['baseline_month_raw_ms_median']} ms vs warm {figures['baseline_month_warm_ms_median']} ms; "
        f"every page matched: {not mismatches}; {figures['seconds']} s")
    print(json.dumps(figures, separators=(",", ":"), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
