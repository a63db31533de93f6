"""Warm-tier benchmark: the archive compacted into Parquet (DuckDB), paged newest first, against the raw archive.

Run by hand, never by ``make test``. Issue 20's engine decision, measured in one run:

1. **Seed**: ``--entries`` entries of one org over ``--days`` days (the generator's entries, ids
   and times new), and ``--small`` of a smaller org; ``--modified`` of them get a second version
   (a job's completion). Their versions are laid out as gzip JSON lines exactly as the archive
   keeps them (``archive/org=/date=/HH-seq.jsonl.gz``), one object per org and hour: fewer and
   bigger objects than the stream writer makes (one per batch), so the baseline is favoured.
2. **Compaction** (``activitylog.warm.compact``, each run in a child process for its peak memory):
   the first, full compaction of every archived day but the last (files of ``compact.FILE_ROWS``
   rows, zstd, sorted by id, ``--row-group`` rows per row group), then the daily job's run: the
   last day as an increment into that manifest (its newest file, not full, read back and filled).
   Entries per second, seconds, peak RSS, files; the baseline beside the increment is what the
   job cost before it was incremental: the whole archive compacted again (the full run's time).
3. **Pages**: bench/query.py's filter combinations (its subjects picked from this seed), each
   over the warm part of the two years (``--hot-days`` ago back to ``--days`` ago): ``--pages``
   pages of 50 newest first through ``activitylog.warm.page``, ``--repeats`` times; p50/p95 ms,
   bytes read (``rchar`` of /proc/self/io: what a range-reading client would fetch) and files
   opened per page, for both orgs (bytes growth = big ÷ small).
4. **Baseline**: the same combinations' first page from the raw archive through
   ``activitylog archive query``'s own ``query`` (DuckDB over gzip JSON, pruned by org and
   day), over one month in the warm part (a page over the whole window would read every object
   of two years), against the warm tier over that same month.

5. **Package** (``--sizes``, which asks PyPI through pip): duckdb's and pyarrow's wheels for the
   template's runtime and architecture, installed as ``make package`` installs the layer's, against
   the layer's own requirements and Lambda's 250 MB unzipped limit (function and layers together).

Files are on local disk (a temporary folder), read with DuckDB's local file system: no S3, no
network. The last line is one JSON object of the named figures.

    .venv/bin/python bench/warm.py                             # about 6 minutes on 2 cores
    .venv/bin/python bench/warm.py --entries 20000 --small 5000 --repeats 1   # a quick check
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
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from common import PAGE, RETENTION_DAYS, iso, log, percentile

from activitylog_local import generator

BIG, SMALL = "org_warm_big", "org_warm_small"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200_000, help="entries of the big org (default 200000)")
    parser.add_argument("--small", type=int, default=40_000, help="entries of the small org (default 40000)")
    parser.add_argument("--days", type=int, default=730, help="days the entries span (default 730)")
    parser.add_argument("--hot-days", type=int, default=90, help="the newest days, left to the table (default 90)")
    parser.add_argument("--modified", type=float, default=0.1, help="share of entries with a second version")
    parser.add_argument("--row-group", type=int, default=None, help="rows per row group (default: compact's)")
    parser.add_argument("--pages", type=int, default=3, help="pages followed per combination")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of each combination (latency samples)")
    parser.add_argument("--pool", type=int, default=3000, help="distinct generated entries the seed reuses")
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--sizes", action="store_true",
                        help="also install the engines' wheels for Lambda's platform (pip, as make package does) and size them")
    parser.add_argument("--compaction-only", action="store_true", help="stop after the compaction figures (no pages)")
    parser.add_argument("--compact", nargs=3, metavar=("ROOT", "ORG", "THROUGH"), help=argparse.SUPPRESS)  # the child
    return parser.parse_args()


class Folder:
    """A bucket as files, one per key (``activitylog_local.archive.FolderObjects``), writable."""

    def __init__(self, root: Path) -> None:
        from activitylog_local.archive import FolderObjects

        self.root, self.objects = root, FolderObjects(root)

    def keys(self, prefix: str, start_after: Optional[str] = None):
        """In key order, skipping the folders wholly at or before ``start_after`` (as S3's StartAfter does not
        read them: a daily run lists a day, not the org's two years)."""

        def walk(folder: Path, key: str):
            for child in sorted(folder.iterdir(), key=lambda path: path.name):
                name = f"{key}{child.name}"
                if child.is_dir():
                    below = name + "/"
                    if start_after and below < start_after and not start_after.startswith(below):
                        continue  # every key under it sorts before start_after
                    if below.startswith(prefix) or prefix.startswith(below):
                        yield from walk(child, below)
                elif name.startswith(prefix) and (start_after is None or name > start_after):
                    yield name

        return walk(self.root, "") if self.root.exists() else iter(())

    def get(self, key: str) -> Optional[bytes]:
        return self.objects.get(key)

    def put(self, key: str, body: bytes, content_type: str = "", tag: Optional[str] = None) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def rchar() -> int:
    """Bytes this process has asked the kernel to read so far (every thread)."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def entry_pool(rng: random.Random, size: int, now: datetime) -> list:
    """Entries of the generator's distribution, built by the service's own rule (``rules.new_entry``)."""
    from activitylog import rules
    from activitylog.inputs import NewEntry

    documents = (generator.document(rng, now - timedelta(minutes=5)) for _ in range(size))
    return [rules.new_entry(NewEntry.model_validate(document), writer, now, RETENTION_DAYS) for document, writer in documents]


# --- 1. seed ------------------------------------------------------------------------------------------------


def seed(rng: random.Random, pool: list, org: str, count: int, start: datetime, end: datetime, modified: float,
         root: Path, first_seq: int) -> tuple[int, dict, int]:
    """The org's versions as the archive keeps them, one object per hour; (objects, tallies, next seq)."""
    from activitylog.archive import layout
    from activitylog.archive.lines import INSERT, MODIFY, version_line
    from activitylog.archive.store import pack_lines
    from archive import new_id

    by_hour: dict[str, list] = {}
    tallies: dict[str, Any] = {"user": Counter(), "record": Counter(), "entries": []}
    seq = first_seq
    for moment in sorted(generator.busy_moment(rng, start, end) for _ in range(count)):
        entry = replace(rng.choice(pool), id=new_id(rng, moment), recorded_at=moment)
        if entry.correlation_id:  # a job run's entries share a day (the pool would spread one run over two years)
            entry = replace(entry, correlation_id=f"{entry.correlation_id}_{moment:%Y%m%d}")
        seq += 1
        versions = [version_line(org, entry, f"{seq:021d}", INSERT, moment)]
        if rng.random() < modified:
            from activitylog.entry import Status

            seq += 1
            later = replace(entry, status=rng.choice([Status.SUCCESS, Status.FAILED]), version=entry.version + 1)
            versions.append(version_line(org, later, f"{seq:021d}", MODIFY, moment + timedelta(minutes=5)))
        by_hour.setdefault(layout.hour_prefix(org, entry.id), []).extend(versions)
        final = versions[-1].document
        actor, entity = final["actor"] or {}, final["entity"] or {}
        tallies["entries"].append((final["id"], final["type"], final["status"], actor.get("kind"), actor.get("id"),
                                   entity.get("type"), entity.get("id"), final["correlation_id"]))
        if final["actor"] and final["actor"].get("kind") == "user":
            tallies["user"][final["actor"]["id"]] += 1
        if final["entity"]:
            tallies["record"][(final["entity"]["type"], final["entity"]["id"])] += 1
    for prefix, lines in by_hour.items():
        path = root / f"{prefix}{lines[0].sequence}.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pack_lines(lines))
    return len(by_hour), tallies, seq


# --- 2. compaction -----------------------------------------------------------------------------------------


def compact_child(root: str, org: str, through: str, row_group: Optional[int]) -> None:
    """In the child: compact one org through ``through`` (the folder is both the archive and the warm bucket),
    print its figures as JSON."""
    from datetime import date

    from activitylog.warm import compact

    folder = Folder(Path(root))
    before = compact.read_manifest(folder, org)
    started = time.perf_counter()
    files = compact.compact(folder, folder, org, date.fromisoformat(through),
                            **({"row_group_rows": row_group} if row_group else {})).files
    seconds = time.perf_counter() - started
    old = {f.key for f in before.files}
    print(json.dumps({"seconds": seconds, "files": len(files), "rows": sum(f.rows for f in files),
                      "new_rows": sum(f.rows for f in files) - sum(f.rows for f in before.files),
                      "files_written": sum(1 for f in files if f.key not in old),
                      "bytes": sum(f.size for f in files), "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux keeps it across execve, so a child started
    by a big parent reports the parent's size."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def compact_org(root: Path, org: str, through: str, row_group: Optional[int]) -> dict:
    command = [sys.executable, __file__, "--compact", str(root), org, through] + (["--row-group", str(row_group)] if row_group else [])
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)  # its errors show
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- 3. pages ----------------------------------------------------------------------------------------------


def combinations(low: datetime, high: datetime, heavy_user: str, week_user: str, record: tuple[str, str],
                 correlation: str) -> list[tuple[str, dict]]:
    """bench/query.py's combinations (queries.combinations), each over the warm window; its 7-day ones over
    the warm window's newest week, and a correlation id (an axis the archive's lines carry)."""
    window = {"from": iso(low), "to": iso(high)}
    week = {"from": iso(high - timedelta(days=7)), "to": iso(high)}
    rec = {"entity_type": record[0], "entity_id": record[1]} | window
    name = f"record {record[0]}/{record[1]}"
    return [
        ("no filter", window),
        ("type=USER_ACTION", {"type": "USER_ACTION"} | window),
        ("type=WEBHOOK,SYSTEM_EVENT", {"type": "WEBHOOK,SYSTEM_EVENT"} | window),
        ("status=FAILED", {"status": "FAILED"} | window),
        ("status=WARNING,FAILED", {"status": "WARNING,FAILED"} | window),
        ("status=IN_PROGRESS · 7 d", {"status": "IN_PROGRESS"} | week),
        (f"user={heavy_user}", {"user": heavy_user} | window),
        (f"user={week_user} · 7 d", {"user": week_user} | week),
        ("entity_type=payment", {"entity_type": "payment"} | window),
        (name, rec),
        ("type=BACKGROUND_JOB & status=FAILED,WARNING · 7 d", {"type": "BACKGROUND_JOB", "status": "FAILED,WARNING"} | week),
        (f"user={week_user} & type=USER_ACTION · 7 d", {"user": week_user, "type": "USER_ACTION"} | week),
        (f"user={heavy_user} & type=WEBHOOK (none)", {"user": heavy_user, "type": "WEBHOOK"} | window),
        ("entity_type=payment & type=WEBHOOK", {"entity_type": "payment", "type": "WEBHOOK"} | window),
        (f"user={heavy_user} & status=WARNING,FAILED", {"user": heavy_user, "status": "WARNING,FAILED"} | window),
        (f"{name} & type=USER_ACTION", rec | {"type": "USER_ACTION"}),
        ("type=WEBHOOK & status=WARNING,FAILED", {"type": "WEBHOOK", "status": "WARNING,FAILED"} | window),
        ("correlation_id (one job run)", {"correlation_id": correlation} | window),
    ]


def connect() -> Any:
    import duckdb

    connection = duckdb.connect()
    for setting in ("SET enable_external_file_cache = false", "SET parquet_metadata_cache = false"):
        try:  # no cache across pages: each page reads what a fresh reader would
            connection.execute(setting)
        except duckdb.Error:
            pass
    return connection


def warm_pages(root: Path, org: str, params: dict, now: datetime, pages: int, repeats: int) -> dict:
    from activitylog.query.filters import parse_list_request
    from activitylog.warm import compact
    from activitylog.warm.page import newest_first

    files = [(str(root / file.key), file) for file in compact.current(Folder(root), org)]
    wanted = parse_list_request(params).filter
    latencies, per_page, first_ids = [], [], None
    for repeat in range(repeats):
        connection, before, ids = connect(), None, []
        for _ in range(pages):
            read_before, started = rchar(), time.perf_counter()
            page = newest_first(files, wanted, now, PAGE, before, connection)
            latencies.append((time.perf_counter() - started) * 1000)
            if repeat == 0:
                per_page.append({"bytes": rchar() - read_before, "files": page.files_read, "rows": len(page.rows)})
            ids += [row["id"] for row in page.rows]
            before = page.last_id
            if before is None:
                break
        if first_ids is None:
            first_ids = ids
        assert ids == first_ids, f"{org} {params}: a repetition read other entries"
    return {"latencies": latencies, "pages": per_page, "ids": first_ids}


def expected_ids(entries: list[tuple], params: dict, now: datetime, count: int) -> list[str]:
    """The newest ``count`` matching ids by a direct read of every seeded entry (its latest version)."""
    from activitylog import ids
    from activitylog.query.filters import parse_list_request

    f = parse_list_request(params).filter
    low_moment, high_moment = f.window(now)
    low, high = ids.lower_bound(low_moment), ids.upper_bound(high_moment)
    types, statuses = {t.value for t in f.types}, {s.value for s in f.statuses}
    found = [e[0] for e in entries
             if low <= e[0] <= high and (not types or e[1] in types) and (not statuses or e[2] in statuses)
             and (not f.user or (e[3] == "user" and e[4] == f.user)) and (not f.entity_type or e[5] == f.entity_type)
             and (not f.entity_id or e[6] == f.entity_id) and (not f.correlation_id or e[7] == f.correlation_id)]
    return sorted(found, reverse=True)[:count]


def baseline_page(root: Path, org: str, params: dict, now: datetime) -> dict:
    from activitylog.support.archive_query import query
    from activitylog.query.filters import parse_list_request

    wanted = parse_list_request(params).filter
    read_before, started = rchar(), time.perf_counter()
    rows = query(root, org, wanted, now, limit=PAGE, connection=connect())
    return {"ms": (time.perf_counter() - started) * 1000, "bytes": rchar() - read_before, "ids": [row["id"] for row in rows]}


def package_sizes() -> dict:
    """MB unzipped (and zipped) of the layer's requirements and of each engine, for Lambda's platform."""
    import shutil

    from activitylog_local.package import platform_tags, runtime_of
    from samlocal.template import ROOT, load

    runtime, architecture = runtime_of(load())
    version = runtime.removeprefix("python")
    flags = ["--only-binary=:all:", "--implementation", "cp", "--python-version", version, "--abi", "cp" + version.replace(".", ""),
             "--abi", "abi3", "--abi", "none", *[f for tag in platform_tags(architecture) for f in ("--platform", tag)]]
    sizes = {"runtime": runtime, "architecture": architecture}
    with tempfile.TemporaryDirectory(prefix="warm-sizes-") as folder:
        for name, wanted in (("layer", ["-r", str(ROOT / "layers" / "activitylog" / "requirements.txt")]),
                             ("duckdb", ["duckdb"]), ("pyarrow", ["pyarrow"])):
            target = Path(folder) / name
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                            "--no-warn-conflicts", "--target", str(target), *flags, *wanted], check=True)
            unzipped = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
            archive = shutil.make_archive(str(target), "zip", target)
            sizes[name] = {"unzipped_mb": round(unzipped / 2**20, 1), "zipped_mb": round(os.path.getsize(archive) / 2**20, 1)}
            log(f"  {name:<8} {sizes[name]['unzipped_mb']:>7.1f} MB unzipped, {sizes[name]['zipped_mb']:>6.1f} MB zipped")
    for engine in ("duckdb", "pyarrow"):
        total = sizes["layer"]["unzipped_mb"] + sizes[engine]["unzipped_mb"]
        sizes[f"layer_with_{engine}_unzipped_mb"] = round(total, 1)
        log(f"  layer + {engine}: {total:.1f} MB of Lambda's 250 MB unzipped")
    return sizes


def main() -> None:
    args = arguments()
    if args.compact:
        compact_child(*args.compact, args.row_group)
        return
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start, boundary = now - timedelta(days=args.days), now - timedelta(days=args.hot_days)
    log(f"bench/warm.py · {args.entries:,} + {args.small:,} entries over {args.days} days · warm part older than "
        f"{args.hot_days} days · seed {args.seed} · now {iso(now)}")
    began = time.perf_counter()
    figures: dict[str, Any] = {"entries": args.entries, "small_entries": args.small, "days": args.days,
                               "hot_days": args.hot_days, "storage": "local disk (temporary folder), DuckDB's local reads"}
    with tempfile.TemporaryDirectory(prefix="warm-bench-") as folder:
        root = Path(folder)
        pool = entry_pool(rng, args.pool, now)
        seq, tallies, objects = 0, {}, {}
        for org, count in ((BIG, args.entries), (SMALL, args.small)):
            laid = time.perf_counter()
            objects[org], tallies[org], seq = seed(rng, pool, org, count, start, now, args.modified, root, seq)
            raw_bytes = sum(p.stat().st_size for p in (root / "archive").glob(f"org={org}/*/*.jsonl.gz"))
            log(f"  {org}: {count:,} entries in {objects[org]:,} archive objects ({raw_bytes / 1e6:.1f} MB gzip JSON lines), "
                f"laid out in {time.perf_counter() - laid:.0f} s")
            figures.setdefault("raw", {})[org] = {"objects": objects[org], "bytes": raw_bytes}

        log(f"\n2. compaction (activitylog.warm.compact, one child process per run, row groups of "
            f"{args.row_group or 'the default'} rows): the first, full one through two days before the last archived "
            f"day (today, partial), then the day before it as the job's daily increment")
        compaction = {}
        for org, count in ((BIG, args.entries), (SMALL, args.small)):
            from activitylog.warm.compact import archived_days

            today = archived_days(Folder(root), org)[-1]  # partial: it is still going on
            day = (datetime.fromisoformat(today) - timedelta(days=1)).date().isoformat()  # the increment: a whole day
            full = compact_org(root, org, (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat(), args.row_group)
            full["entries_per_s"] = full["rows"] / full["seconds"]
            increment = compact_org(root, org, day, args.row_group)
            increment["entries_per_s"] = increment["new_rows"] / increment["seconds"]
            rest = compact_org(root, org, today, args.row_group)  # today's few, so the pages below see every entry
            assert rest["rows"] == count, f"{org}: compacted {rest['rows']} rows of {count} entries"
            # The baseline: before it was incremental, the daily job compacted the whole archive again.
            increment["baseline_full_recompaction_s"] = full["seconds"] * count / max(full["rows"], 1)
            increment["speedup"] = increment["baseline_full_recompaction_s"] / increment["seconds"]
            compaction[org] = {"full": full, "increment": increment}
            log(f"  {org} full:      {full['rows']:,} entries → {full['files']} files, {full['bytes'] / 1e6:.1f} MB, "
                f"{full['seconds']:.1f} s = {full['entries_per_s']:,.0f} entries/s, peak RSS {full['peak_rss_mb']:.0f} MB")
            log(f"  {org} increment: {increment['new_rows']:,} entries of {day} → {increment['files_written']} files written "
                f"({increment['files']} listed), {increment['seconds']:.2f} s = {increment['entries_per_s']:,.0f} entries/s, "
                f"peak RSS {increment['peak_rss_mb']:.0f} MB; baseline (the whole archive again) "
                f"{increment['baseline_full_recompaction_s']:.1f} s: {increment['speedup']:,.0f}× faster")
        figures["compaction"] = {org: {run: {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
                                       for run, r in runs.items()} for org, runs in compaction.items()}
        figures.update({
            "full_entries_per_s": round(compaction[BIG]["full"]["entries_per_s"]),
            "full_peak_rss_mb": round(compaction[BIG]["full"]["peak_rss_mb"]),
            "increment_seconds": round(compaction[BIG]["increment"]["seconds"], 2),
            "increment_entries": compaction[BIG]["increment"]["new_rows"],
            "increment_peak_rss_mb": round(compaction[BIG]["increment"]["peak_rss_mb"]),
            "increment_baseline_seconds": round(compaction[BIG]["increment"]["baseline_full_recompaction_s"], 1),
        })
        if args.compaction_only:
            figures["seconds"] = round(time.perf_counter() - began)
            print(json.dumps(figures, separators=(",", ":"), ensure_ascii=False), flush=True)
            return

        users = tallies[BIG]["user"].most_common()
        heavy, week_user = users[0][0], users[len(users) // 2][0]
        record = tallies[BIG]["record"].most_common(1)[0][0]
        from activitylog import ids

        warm_runs = Counter(e[7] for e in tallies[BIG]["entries"] if e[7] and e[0] < ids.lower_bound(boundary))
        correlation = warm_runs.most_common(1)[0][0]  # a job run of the warm part
        log(f"\n3. pages of {PAGE} newest first over the warm part ({iso(start)} to {iso(boundary)}), {args.pages} pages, "
            f"{args.repeats} repetitions; bytes = rchar per page (first repetition)")
        log(f"  {'combination':<52}{'org':>6}{'p50 ms':>8}{'p95 ms':>8}{'KB/pg':>8}{'files/pg':>9}{'rows':>6}{'growth':>8}")
        pages, mismatches = {}, []
        for org in (BIG, SMALL):
            for name, params in combinations(start, boundary, heavy, week_user, record, correlation):
                run = warm_pages(root, org, params, now, args.pages, args.repeats)
                if run["ids"] != expected_ids(tallies[org]["entries"], params, now, args.pages * PAGE)[:len(run["ids"])] or (
                        len(run["ids"]) < args.pages * PAGE and run["ids"] != expected_ids(tallies[org]["entries"], params, now, 10**9)):
                    mismatches.append(f"{org}: {name}")
                kb = statistics.fmean(p["bytes"] for p in run["pages"]) / 1024
                pages.setdefault(name, {})[org] = {
                    "p50_ms": round(percentile(run["latencies"], 50), 1), "p95_ms": round(percentile(run["latencies"], 95), 1),
                    "kb_per_page": round(kb, 1), "files_per_page": round(statistics.fmean(p["files"] for p in run["pages"]), 2),
                    "rows": sum(p["rows"] for p in run["pages"])}
                row = pages[name][org]
                growth = (f"{pages[name][BIG]['kb_per_page'] / max(row['kb_per_page'], 0.1):.2f}×" if org == SMALL else "")
                log(f"  {name:<52}{org[9:]:>6}{row['p50_ms']:>8.1f}{row['p95_ms']:>8.1f}{row['kb_per_page']:>8.0f}"
                    f"{row['files_per_page']:>9.2f}{row['rows']:>6}{growth:>8}")
        for name, by_org in pages.items():
            by_org["bytes_growth"] = round(by_org[BIG]["kb_per_page"] / max(by_org[SMALL]["kb_per_page"], 0.1), 2)

        month_low = boundary - timedelta(days=120)
        month_high = month_low + timedelta(days=30)
        log(f"\n4. baseline: the first page from the raw archive (archive query's query, DuckDB over gzip JSON, pruned by "
            f"org and day) against the warm tier, both over one month ({iso(month_low)} to {iso(month_high)}), {BIG}")
        log(f"  {'combination':<52}{'raw ms':>9}{'raw KB':>9}{'warm ms':>9}{'warm KB':>9}{'same':>6}")
        baseline = {}
        for name, params in combinations(month_low, month_high, heavy, week_user, record, correlation):
            if "correlation_id" in params:
                continue  # archive query's reader has no correlation id filter
            params = dict(params, **{"from": iso(month_low), "to": iso(month_high)})
            raw = baseline_page(root, BIG, params, now)
            warm = warm_pages(root, BIG, params, now, 1, 1)
            same = raw["ids"] == warm["ids"]
            if not same:
                mismatches.append(f"baseline month: {name}")
            baseline[name] = {"raw_ms": round(raw["ms"], 1), "raw_kb": round(raw["bytes"] / 1024, 1),
                              "warm_ms": round(warm["latencies"][0], 1), "warm_kb": round(warm["pages"][0]["bytes"] / 1024, 1)}
            b = baseline[name]
            log(f"  {name:<52}{b['raw_ms']:>9.0f}{b['raw_kb']:>9.0f}{b['warm_ms']:>9.1f}{b['warm_kb']:>9.0f}{'yes' if same else 'NO':>6}")

    if args.sizes:
        log("\n5. package: wheels for Lambda's platform (pip --platform, as make package installs the layer)")
        figures["package"] = package_sizes()

    big_latencies = [pages[n][BIG][k] for n in pages for k in ("p95_ms",)]
    figures.update({
        "warm_p50_ms_median": round(statistics.median(pages[n][BIG]["p50_ms"] for n in pages), 1),
        "warm_p95_ms_max": max(big_latencies),
        "warm_p95_ms_worst": max(pages, key=lambda n: pages[n][BIG]["p95_ms"]),
        "warm_kb_per_page_max": max(pages[n][BIG]["kb_per_page"] for n in pages),
        "warm_files_per_page_max": max(pages[n][BIG]["files_per_page"] for n in pages),
        "bytes_growth_max": max(pages[n]["bytes_growth"] for n in pages),
        "bytes_growth_worst": max(pages, key=lambda n: pages[n]["bytes_growth"]),
        "baseline_month_raw_ms_median": round(statistics.median(b["raw_ms"] for b in baseline.values()), 1),
        "baseline_month_warm_ms_median": round(statistics.median(b["warm_ms"] for b in baseline.values()), 1),
        "baseline_month_raw_kb_median": round(statistics.median(b["raw_kb"] for b in baseline.values()), 1),
        "baseline_month_warm_kb_median": round(statistics.median(b["warm_kb"] for b in baseline.values()), 1),
        "results_match_raw_archive": not mismatches,
        "mismatches": mismatches,
        "pages": pages,
        "baseline_month": baseline,
        "seconds": round(time.perf_counter() - began),
    })
    log(f"\n== warm p95 max {figures['warm_p95_ms_max']} ms ({figures['warm_p95_ms_worst']}); bytes growth big ÷ small max "
        f"{figures['bytes_growth_max']}× ({figures['bytes_growth_worst']}); month page median raw "
        f"{figures['baseline_month_raw_ms_median']} ms vs warm {figures['baseline_month_warm_ms_median']} ms; "
        f"matches the raw archive: {not mismatches}; {figures['seconds']} s")
    print(json.dumps(figures, separators=(",", ":"), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
