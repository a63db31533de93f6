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
Not priced yet: CloudWatch Logs ingestion of the handlers' log and metric lines, X-Ray
traces (the template sets ``Tracing: Active``), and the archive function's own Lambda time
(the stream archive is priced for its S3 side only; the function is not built yet).

    .venv/bin/python bench/cost.py                       # 20,000 entries, about a minute
    .venv/bin/python bench/cost.py --pages-per-million 20000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import prices
from common import ORG, RETENTION_DAYS, TABLE, local_table, log
from queries import combinations, run_ours
from seeding import seed, subjects
from writes import measure_writes

MONTHS = RETENTION_DAYS / 365 * 12  # hot: in the table, every index and PITR, until TTL
TARGET = 6.0


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
    return lines


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
    return parser.parse_args()


def measure(args: argparse.Namespace) -> Inputs:
    now = datetime.now(timezone.utc).replace(microsecond=0)
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


def main() -> int:
    args = arguments()
    log(f"bench/cost.py · {args.entries:,} entries · seed {args.seed} · prices as of 2026-11-27 (bench/prices.py)")
    inputs = measure(args)
    totals = report(inputs)
    print(json.dumps({"usd_per_million_entries_2y": {k: round(v, 3) for k, v in totals.items()},
                      "cheaper_table_class": min(totals, key=totals.get),
                      "target_usd": TARGET, "target_met": min(totals.values()) <= TARGET,
                      "inputs": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in inputs.__dict__.items()}},
                     separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
