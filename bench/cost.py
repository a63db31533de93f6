"""Cost report: dollars per million entries written and kept hot for two years, per table class.

Run by hand (``make bench`` runs it after the query bench). It seeds DynamoDB Local from
the shared generator and measures what the bill is made of:

- write units per entry, the table's and each index's (``ReturnConsumedCapacity=INDEXES``
  on the store's own PutItem, ``writes.py``);
- stored bytes per entry in the table and in each index, by DynamoDB's documented size
  formula on the exact items written (``sizes.py``; DynamoDB Local does not bill);
- read units per dashboard page, mean over the query bench's combinations (``queries.py``);
- the handler-side time of a write and of a page (on DynamoDB Local) for Lambda's duration.

Assumptions are inputs, printed with the figures: how many dashboard pages are read per
million entries written, how many entries a write request carries, how many versions an
archive object holds. Prices come from ``prices.py``. The last line is one JSON object.

Then the tiered design (issue 20) beside the old one, from the same run's figures: the table keeps
``HotTableDays`` (30 or 90) of storage, indexes and PITR; the rest of the two years is listed from
the warm tier, whose inputs ``tiered.py`` measures on a sample org (``--warm-entries``) compacted by
``activitylog.warm.compact``: Parquet bytes per entry, compaction's S3 GET/LIST/PUT and Lambda
GB-seconds (its time and peak memory), and a warm page's S3 requests and bytes. Assumed (printed):
the share of pages that reach the warm tier and how often an entry's month is compacted.
Not priced yet: CloudWatch Logs ingestion of the handlers' log and metric lines, X-Ray
traces (the template sets ``Tracing: Active``), and the archive function's own Lambda time
(the stream archive is priced for its S3 side only; the function is not built yet).

    .venv/bin/python bench/cost.py                       # 20,000 entries and a 100,000-entry warm sample, a few minutes
    .venv/bin/python bench/cost.py --pages-per-million 20000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Optional

import prices
from common import ORG, RETENTION_DAYS, TABLE, local_table, log
from queries import combinations, run_ours
from seeding import seed, subjects
from tiered import Warm
from writes import measure_writes

MONTHS = RETENTION_DAYS / 365 * 12  # hot: in the table, every index and PITR, until TTL
TARGET = 6.0
HOT_DAYS = (30, 90)  # the tiered design's HotTableDays candidates


@dataclass(frozen=True)
class Inputs:
    # Measured.
    wcu_per_entry: float
    wcu_by_target: dict  # "table" or index name -> mean write units per entry
    bytes_per_entry: dict  # target ("table" or index name) -> mean billed bytes per entry, 100 B overhead included
    keys_only_bytes: dict  # the same if every index projected keys only
    rcu_per_page: float
    items_per_page: float
    write_ms: float
    page_ms: float
    offloaded_share: float
    # Assumed (printed).
    pages_per_million: float
    entries_per_request: int
    versions_per_archive_object: int
    memory_gb: float
    architecture: str
    pitr: bool
    hot_months: float = MONTHS
    keys_only: bool = False  # lever: index projection KEYS_ONLY, pages then fetch list columns from the table
    # The tiered design (issue 20): entries older than hot_months leave the table for the warm tier.
    warm: Optional[Warm] = None  # measured on the warm sample (tiered.py); None: the old design
    warm_page_share: float = 0.25  # assumed: share of dashboard pages that reach past the hot tier
    compactions_per_entry: float = 1.0  # assumed: how often an entry's month is compacted (once, when it turns warm)


def breakdown(i: Inputs, table_class: str) -> dict[str, float]:
    """Dollars per million entries, line by line."""
    p = prices.DYNAMODB[table_class]
    million = 1e6
    sizes = i.keys_only_bytes if i.keys_only else i.bytes_per_entry
    gib_months = {target: b * million / prices.GIB * i.hot_months for target, b in sizes.items()}
    # KEYS_ONLY: each listed item is read again from the table (BatchGetItem, eventually consistent, ≤ 4 KB: ½ unit).
    rcu_per_page = i.rcu_per_page + (i.items_per_page * 0.5 if i.keys_only else 0.0)
    write_requests = million / i.entries_per_request
    lines = {"DynamoDB writes (table + indexes)": i.wcu_per_entry * million * p["write_unit"]}
    lines |= {f"DynamoDB storage · {target}": gm * p["storage_gb_month"] for target, gm in gib_months.items()}
    lines["DynamoDB PITR (table data)"] = gib_months["table"] * prices.PITR_GB_MONTH if i.pitr else 0.0
    lines["DynamoDB reads (dashboard pages)"] = i.pages_per_million * rcu_per_page * p["read_unit"]
    lines["HTTP API requests"] = (write_requests + i.pages_per_million) * prices.HTTP_API_REQUEST
    gb_seconds = i.memory_gb * (million * i.write_ms + i.pages_per_million * i.page_ms) / 1000
    lines["Lambda requests + duration"] = ((write_requests + i.pages_per_million) * prices.LAMBDA_REQUEST
                                           + gb_seconds * prices.LAMBDA_GB_SECOND[i.architecture])
    archive_gib_months = (sizes["table"] - 100) * million / prices.GIB * MONTHS  # the archive keeps two years either way
    lines["S3 archive (every version, from the stream)"] = (archive_gib_months * prices.S3_STANDARD_GB_MONTH
                                                            + million / i.versions_per_archive_object * prices.S3_PUT)
    lines["S3 offloaded details (PUTs)"] = i.offloaded_share * million * prices.S3_PUT
    if i.warm is not None:
        lines |= warm_lines(i, i.warm)
    return lines


def warm_lines(i: Inputs, w: Warm) -> dict[str, float]:
    """The warm tier's lines: its Parquet for the listed rest of two years, compaction, and warm pages."""
    million, per_million = 1e6, 1e6 / w.entries
    gb_second = prices.LAMBDA_GB_SECOND[i.architecture]
    compaction_requests = (w.gets * prices.S3_GET + (w.lists + w.puts) * prices.S3_PUT) * per_million
    compaction_lambda = w.seconds * per_million * w.lambda_memory_mb / 1024 * gb_second
    warm_pages = i.pages_per_million * i.warm_page_share
    return {
        "S3 warm tier (Parquet, until 2 years)": w.bytes_per_entry * million / prices.GIB * (MONTHS - i.hot_months)
        * prices.S3_STANDARD_GB_MONTH,
        "Compaction (S3 requests)": compaction_requests * i.compactions_per_entry,
        "Compaction (Lambda GB-seconds)": compaction_lambda * i.compactions_per_entry,
        "Warm pages (S3 requests + Lambda time)": warm_pages * (w.page_requests * prices.S3_GET
                                                                + i.memory_gb * w.page_ms / 1000 * gb_second),
    }


def hot(i: Inputs, days: int, w: Warm) -> Inputs:
    """The tiered design: the table keeps ``days`` (HotTableDays), the warm tier the rest of two years."""
    return replace(i, hot_months=days / 365 * 12, warm=w)


def tiered_levers(i: Inputs, w: Warm) -> list[tuple[str, Inputs]]:
    """The tiered design's levers, applied one after another from the old design (template.yaml's settings)."""
    t = hot(i, 30, w)
    return [
        ("old design: 2 years in the table (template.yaml's settings)", i),
        ("HotTableDays 90, the rest listed from the warm tier (PITR on the smaller table)", hot(i, 90, w)),
        ("HotTableDays 30", t),
        ("PITR off (the stream archive in S3 already keeps every version)", replace(t, pitr=False)),
        ("writes batched 100 per request (POST /activities/batch)", replace(t, pitr=False, entries_per_request=100)),
        ("index projections KEYS_ONLY (pages read list columns from the table)",
         replace(t, pitr=False, entries_per_request=100, keys_only=True)),
    ]


def levers(i: Inputs) -> list[tuple[str, str, Inputs]]:
    """Changes that lower the bill, applied one after another, each priced on the same measurements."""
    return [
        ("Standard-IA table class", "STANDARD_INFREQUENT_ACCESS", i),
        ("PITR off (the stream archive in S3 already keeps every version)", "STANDARD_INFREQUENT_ACCESS", replace(i, pitr=False)),
        ("writes batched 100 per request (POST /activities/batch)", "STANDARD_INFREQUENT_ACCESS",
         replace(i, pitr=False, entries_per_request=100)),
        ("index projections KEYS_ONLY (pages read list columns from the table)", "STANDARD_INFREQUENT_ACCESS",
         replace(i, pitr=False, entries_per_request=100, keys_only=True)),
        ("hot 12 months, the second year in the S3 archive only (changes what the product promises)",
         "STANDARD_INFREQUENT_ACCESS", replace(i, pitr=False, entries_per_request=100, keys_only=True, hot_months=12)),
    ]


def template_settings() -> tuple[float, str, bool]:
    """(memory GB, architecture, PITR on) of the table and the functions, from template.yaml."""
    from samlocal.template import load

    template = load()
    function = template.get("Globals", {}).get("Function", {})
    table = template["Resources"]["ActivityTable"]["Properties"]
    pitr = bool((table.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"))
    return function.get("MemorySize", 128) / 1024, (function.get("Architectures") or ["x86_64"])[0], pitr


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000, help="entries to seed and measure sizes on (default 20000)")
    parser.add_argument("--seed", type=int, default=20261126, help="random seed of the generated data")
    parser.add_argument("--write-samples", type=int, default=200, help="entries written one by one for write units")
    parser.add_argument("--pages-per-million", type=float, default=2000,
                        help="dashboard pages read per million entries written (default 2000: write-once, read-rarely)")
    parser.add_argument("--entries-per-request", type=int, default=1, help="entries per write request (default 1: POST /activities)")
    parser.add_argument("--versions-per-archive-object", type=int, default=100, help="stream records per S3 archive object")
    parser.add_argument("--hot-days", type=int, default=90, choices=HOT_DAYS,
                        help="HotTableDays of the tiered design's headline figure (default 90; both are priced)")
    parser.add_argument("--warm-entries", type=int, default=100_000,
                        help="entries of the warm sample compacted and paged (default 100000)")
    parser.add_argument("--warm-pages", type=int, default=3, help="pages followed per combination on the warm sample")
    parser.add_argument("--warm-page-share", type=float, default=0.25,
                        help="share of dashboard pages that reach the warm tier (default 0.25)")
    parser.add_argument("--compactions-per-entry", type=float, default=1.0,
                        help="times an entry's month is compacted (default 1: once, when it turns warm)")
    return parser.parse_args()


def measure(args: argparse.Namespace, now: datetime) -> Inputs:
    with local_table() as bench:
        log(f"== Seed: {args.entries:,} entries from activitylog_local.generator")
        tallies = seed(bench.client, args.entries, now, bench.shards, args.seed, writers=8)
        count = tallies["written"]
        described = bench.client.describe_table(TableName=TABLE)["Table"]
        # Not used: DynamoDB Local reports the table's size for every index too.
        log(f"  DescribeTable (DynamoDB Local): TableSizeBytes {described.get('TableSizeBytes', 0):,} for "
            f"{described.get('ItemCount', 0):,} items; " + ", ".join(
                f"{g['IndexName']} {g.get('IndexSizeBytes', 0):,} B" for g in described.get("GlobalSecondaryIndexes", [])))
        writes = measure_writes(bench.service.store, now, bench.shards, args.seed, args.write_samples)
        from activitylog.service import Caller

        caller = Caller(ORG, "u_01", frozenset({"activity:read"}))
        runs = [run_ours(bench.service, caller, c, now, 1) for c in combinations(now, *subjects(tallies), 10, 3)]
    pages = [p for run in runs for p in run.pages]
    memory_gb, architecture, pitr = template_settings()
    return Inputs(
        wcu_per_entry=writes.mean,
        wcu_by_target=writes.by_index,
        bytes_per_entry={k: v / count for k, v in tallies["stored_bytes"].items()},
        keys_only_bytes={k: v / count for k, v in tallies["keys_only_bytes"].items()},
        rcu_per_page=statistics.fmean(p.capacity for p in pages),
        items_per_page=statistics.fmean(p.returned for p in pages),
        write_ms=statistics.fmean(r.ms for r in writes.rows),
        page_ms=statistics.fmean(p.ms for p in pages),
        offloaded_share=tallies["offloaded"][True] / count,
        pages_per_million=args.pages_per_million,
        entries_per_request=args.entries_per_request,
        versions_per_archive_object=args.versions_per_archive_object,
        memory_gb=memory_gb, architecture=architecture, pitr=pitr,
        warm_page_share=args.warm_page_share, compactions_per_entry=args.compactions_per_entry,
    )


def report(i: Inputs) -> dict[str, float]:
    log("\n== Inputs (measured): " + f"{i.wcu_per_entry:.2f} write units per entry; stored bytes per entry "
        + ", ".join(f"{k} {v:,.0f}" for k, v in i.bytes_per_entry.items())
        + f" (DynamoDB's size formula, 100 B overhead each); {i.rcu_per_page:.2f} read units and {i.items_per_page:.0f} items "
        f"per page; {i.write_ms:.1f} ms per write and {i.page_ms:.1f} ms per page (DynamoDB Local); "
        f"{i.offloaded_share * 100:.2f}% details offloaded to S3")
    log(f"== Inputs (assumed): {i.pages_per_million:,.0f} dashboard pages per million entries; {i.entries_per_request} "
        f"entries per write request; {i.versions_per_archive_object} versions per archive object; hot {MONTHS:.0f} months; "
        f"Lambda {i.memory_gb * 1024:.0f} MB {i.architecture} and PITR {'on' if i.pitr else 'off'} (template.yaml)")
    totals = {}
    for table_class in prices.DYNAMODB:
        lines = breakdown(i, table_class)
        totals[table_class] = sum(lines.values())
        log(f"\n== {table_class}: ${totals[table_class]:.2f} per million entries, 2 years hot (target ≤ ${TARGET:.0f})")
        for name, dollars in sorted(lines.items(), key=lambda kv: -kv[1]):
            log(f"  {name:<52} ${dollars:7.3f}  {dollars / totals[table_class] * 100:5.1f}%")
    cheaper = min(totals, key=totals.get)
    log(f"\n== Cheaper for a write-once, read-rarely log: {cheaper} (${totals[cheaper]:.2f} against "
        f"${max(totals.values()):.2f}); for scale, CloudTrail ${prices.CLOUDTRAIL_PER_MILLION:.0f} per million delivered "
        f"(storage extra), WorkOS ${prices.WORKOS_PER_MILLION_MONTH * 24:,.0f} for a million kept 24 months")
    log("== What would reach the target, one lever after another:")
    for name, table_class, changed in levers(i):
        total = sum(breakdown(changed, table_class).values())
        log(f"  + {name:<70} ${total:6.2f}{'  ≤ target' if total <= TARGET else ''}")
    name, table_class, last = levers(i)[-2]  # still two years hot
    p = prices.DYNAMODB[table_class]
    sizes = last.keys_only_bytes if last.keys_only else last.bytes_per_entry
    each = {index: last.wcu_by_target.get(index, 0.0) * 1e6 * p["write_unit"]
            + sizes[index] * 1e6 / prices.GIB * MONTHS * p["storage_gb_month"] for index in sizes if index != "table"}
    log("  with those four, what each index costs (its write units and two years of its storage): "
        + ", ".join(f"{index} ${dollars:.2f}" for index, dollars in each.items())
        + f"; the rest needs ${sum(breakdown(last, table_class).values()) - TARGET:.2f} less")
    return totals


def total(i: Inputs, table_class: str) -> float:
    return sum(breakdown(i, table_class).values())


def cheapest(i: Inputs) -> tuple[str, float]:
    return min(((c, total(i, c)) for c in prices.DYNAMODB), key=lambda pair: pair[1])


def report_tiered(i: Inputs, w: Warm, headline_days: int) -> dict:
    """The tiered design beside the old one: per HotTableDays and class, its lines, its levers."""
    per_million = 1e6 / w.entries
    log(f"\n== Tiered design (issue 20), inputs measured on the warm sample: {w.bytes_per_entry:,.0f} B per entry in the warm "
        f"tier ({w.parquet_bytes / 1e6:.1f} MB of Parquet for {w.entries:,} entries in {w.files} files, from "
        f"{w.raw_bytes / 1e6:.1f} MB gzip JSON in {w.raw_objects:,} objects); compaction {w.entries / w.seconds:,.0f} entries/s, "
        f"peak {w.peak_rss_mb:.0f} MB (Lambda {w.lambda_memory_mb} MB), per million entries {w.gets * per_million:,.0f} GET, "
        f"{w.lists * per_million:,.0f} LIST, {w.puts * per_million:,.0f} PUT and {w.seconds * per_million:,.0f} s; a warm page "
        f"{w.page_requests:.1f} S3 requests and {w.page_bytes / 1024:,.0f} KB (mean of {w.pages}; max {w.page_requests_max:.0f} "
        f"and {w.page_bytes_max / 2**20:.1f} MB), {w.page_ms:.0f} ms (WarmTier.page over S3 on moto)")
    log(f"== Assumed: {i.warm_page_share:.0%} of dashboard pages reach the warm tier; each entry's month compacted "
        f"{i.compactions_per_entry:g}×; the raw archive keeps every version 2 years as before")
    daily = sum(v for k, v in warm_lines(replace(i, compactions_per_entry=RETENTION_DAYS), w).items() if k.startswith("Compaction"))
    log(f"   (compaction is incremental: each archived day is read once; recompacting the whole archive daily would "
        f"compact each entry ~{RETENTION_DAYS}× and cost ${daily:.2f})")
    log(f"  {'per million entries, listed 2 years':<46}" + "".join(f"{c[:11] + ' ' + str(d) + ' d':>18}" for d in (730, *HOT_DAYS)
                                                                   for c in prices.DYNAMODB))
    designs = {730: i} | {d: hot(i, d, w) for d in HOT_DAYS}
    by = {(d, c): breakdown(x, c) for d, x in designs.items() for c in prices.DYNAMODB}
    names = list(dict.fromkeys(n for lines in by.values() for n in lines))
    for name in sorted(names, key=lambda n: -max(lines.get(n, 0.0) for lines in by.values())):
        log(f"  {name:<46}" + "".join(f"{by[d, c].get(name, 0.0):>18.3f}" for d in designs for c in prices.DYNAMODB))
    log(f"  {'total':<46}" + "".join(f"{sum(by[d, c].values()):>18.2f}" for d in designs for c in prices.DYNAMODB))
    log("== The tiered design's levers, one after another (cheaper class of each step):")
    previous = None
    for name, changed in tiered_levers(i, w):
        table_class, dollars = cheapest(changed)
        worth = f"  {previous - dollars:+6.2f} saved" if previous is not None else ""
        log(f"  + {name:<82} ${dollars:6.2f} ({table_class[:11]}){worth.replace('+', '')}"
            f"{'  ≤ target' if dollars <= TARGET else ''}")
        previous = dollars
    for days in HOT_DAYS:
        table_class, dollars = cheapest(hot(i, days, w))
        lines = breakdown(hot(i, days, w), table_class)
        largest = max(lines, key=lines.get)
        log(f"  HotTableDays {days}: ${dollars:.2f} ({table_class}) "
            + (f"≤ ${TARGET:.0f}" if dollars <= TARGET else f"${dollars - TARGET:.2f} over ${TARGET:.0f}")
            + f"; largest line {largest} ${lines[largest]:.2f}")
    headline = hot(i, headline_days, w)
    table_class, dollars = cheapest(headline)
    lines = breakdown(headline, table_class)
    largest = max(lines, key=lines.get)
    baseline_class, baseline = cheapest(i)
    verdict = (f"meets the ${TARGET:.0f} target" if dollars <= TARGET
               else f"misses the ${TARGET:.0f} target by ${dollars - TARGET:.2f}")
    log(f"\n== Tiered, HotTableDays {headline_days}, template.yaml's settings: ${dollars:.2f} per million entries "
        f"({table_class}) against ${baseline:.2f} for the old design ({baseline_class}); {verdict}; largest line: "
        f"{largest} ${lines[largest]:.2f} ({lines[largest] / dollars:.0%})")
    return {"tiered_usd_per_million": round(dollars, 3), "tiered_table_class": table_class, "tiered_hot_days": headline_days,
            "baseline_usd_per_million": round(baseline, 3), "baseline_table_class": baseline_class,
            "tiered_target_met": dollars <= TARGET, "tiered_largest_line": largest,
            "tiered_largest_line_usd": round(lines[largest], 3),
            "tiered_usd_per_million_by_hot_days": {d: round(cheapest(hot(i, d, w))[1], 3) for d in HOT_DAYS},
            "tiered_levers_usd": {name: round(cheapest(x)[1], 3) for name, x in tiered_levers(i, w)},
            "warm_bytes_per_entry": round(w.bytes_per_entry, 1),
            "hot_bytes_per_entry": {k: round(v, 1) for k, v in i.bytes_per_entry.items()},
            "wcu_per_entry": round(i.wcu_per_entry, 3),
            "compaction_per_million": {"s3_get": round(w.gets * per_million), "s3_list": round(w.lists * per_million),
                                       "s3_put": round(w.puts * per_million), "seconds": round(w.seconds * per_million, 1),
                                       "lambda_mb": w.lambda_memory_mb,
                                       "gb_seconds": round(w.seconds * per_million * w.lambda_memory_mb / 1024, 1)},
            "compaction_entries_per_s": round(w.entries / w.seconds), "compaction_peak_rss_mb": round(w.peak_rss_mb, 1),
            "warm_page": {"s3_requests_mean": round(w.page_requests, 1), "s3_requests_max": w.page_requests_max,
                          "kb_mean": round(w.page_bytes / 1024, 1), "kb_max": round(w.page_bytes_max / 1024, 1),
                          "ms_mean_moto_s3": round(w.page_ms, 1), "pages": w.pages},
            "warm_sample_entries": w.entries}


def main() -> int:
    args = arguments()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    log(f"bench/cost.py · {args.entries:,} entries · seed {args.seed} · prices as of 2026-11-27 (bench/prices.py)")
    inputs = measure(args, now)
    totals = report(inputs)
    import tiered

    warm = tiered.measure(args.warm_entries, args.hot_days, RETENTION_DAYS, args.warm_pages, args.seed, now)
    figures = report_tiered(inputs, warm, args.hot_days)
    print(json.dumps({**figures, "usd_per_million_entries_2y": {k: round(v, 3) for k, v in totals.items()},
                      "cheaper_table_class": min(totals, key=totals.get),
                      "target_usd": TARGET, "target_met": min(totals.values()) <= TARGET,
                      "inputs": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in inputs.__dict__.items()}},
                     separators=(",", ":"), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
