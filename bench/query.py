"""Query benchmark: read amplification, round trips, read and write units, latency and cold start.

Run by hand (``make bench``), never by ``make test``. It starts its own DynamoDB Local (in
memory), creates the table from template.yaml, seeds one organization with a month of
entries from the shared generator and measures, in one run, against baselines measured in
the same run:

1. every filter axis alone and every pair of axes through the real query path
   (``parse_list_request`` → ``ActivityService.list``): read amplification (items read ÷
   items returned), round trips on the critical path per page (``Page.rounds``), read
   units per page and latency; and the same pages the naive way (``queries.py``);
2. write units per entry with every index (``writes.py``);
3. cold start of the query handler against the architecture's floor (``coldstart.py``).

The last line is one JSON object of the named figures.

    .venv/bin/python bench/query.py                 # 200,000 entries, about 4 minutes on 2 cores
    .venv/bin/python bench/query.py --entries 20000 # a quick check
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import coldstart
import latency_model
from common import ORG, PAGE, Bench, iso, local_table, log, percentile
from queries import Run, combinations, run_naive, run_ours
from seeding import seed, subjects
from writes import Writes, measure_writes

TARGETS = ("read amplification mean ≤ 1.5 and ≤ 3 on every combination; ≤ 2 rounds per page; ≤ 5 write units per 1 KB entry; "
           "cold start ≤ 300 ms and ≤ 1.15× the floor; a pair no entry can match answered without reading in ≤ 3 requests; "
           "modelled AWS page p95 ≤ 100 ms on every combination")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200_000, help="entries to seed (default 200000)")
    parser.add_argument("--seed", type=int, default=20261126, help="random seed of the generated data")
    parser.add_argument("--shards", type=int, default=None, help="write shards of the org (default: the service's DEFAULT_SHARDS)")
    parser.add_argument("--pages", type=int, default=5, help="pages followed per combination")
    parser.add_argument("--deep-pages", type=int, default=40, help="pages followed by the deep 30-day combination")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of each combination (latency samples)")
    parser.add_argument("--naive-budget", type=float, default=20.0, help="seconds of naive paging per combination at most")
    parser.add_argument("--write-samples", type=int, default=200, help="entries written one by one to measure write units")
    parser.add_argument("--cold-runs", type=int, default=7, help="cold starts per variant")
    parser.add_argument("--writers", type=int, default=8, help="seeding threads")
    return parser.parse_args()


def report_seed(tallies: dict) -> tuple[tuple[str, str], str, str]:
    """Print the seed's distribution; the longest contact history, the heaviest user and a mid one."""
    count = tallies["written"]

    def share(counter: Counter, keys: Any) -> str:
        return ", ".join(f"{k} {counter[k] / count * 100:.1f}%" for k in keys)

    log("  type:   " + share(tallies["type"], [k for k, _ in tallies["type"].most_common()]))
    log("  status: " + share(tallies["status"], ("SUCCESS", "WARNING", "FAILED", "IN_PROGRESS")))
    users = tallies["user"].most_common()
    log(f"  users:  {len(users)} (most active {users[0][0]} {users[0][1]:,} entries, least {users[-1][0]} {users[-1][1]:,})")
    log("  entity: " + share(tallies["entity_type"], [k for k, _ in tallies["entity_type"].most_common()]))
    details = tallies["detail_bytes"]
    log(f"  entry JSON (detail view, 1 in 20): median {statistics.median(details):,.0f} B, p90 {percentile(details, 90):,.0f} B; "
        f"stored item mean {tallies['stored_bytes']['table'] / count - 100:,.0f} B (DynamoDB's size formula)")
    record, heavy, mid = subjects(tallies)
    log(f"  longest contact history: {record[0]}/{record[1]} with {tallies['record'][record]} entries")
    return record, heavy, mid


NEW_HIRE = "u_new_hire"


def hire_new_member(bench: Bench, now: datetime) -> None:
    from datetime import timedelta

    from activitylog.inputs import NewEntry
    from activitylog.service import Caller

    writer = Caller(ORG, "svc_bench", frozenset({"activity:write"}))
    for n in range(20):
        bench.service.record(writer, NewEntry.model_validate({
            "type": "USER_ACTION", "status": "SUCCESS", "actor": {"kind": "user", "id": NEW_HIRE, "name": "New Hire"},
            "action": "updated", "event": "Contact updated", "occurred_at": iso(now - timedelta(hours=n + 1)),
            "entity": {"type": "contact", "id": f"c_hire_{n}", "label": f"Contact {n}"}}))


def report_writes(writes: Writes) -> None:
    rows = writes.rows
    log(f"  stored item identical to the seed's item: {writes.identical}/{len(rows)}")
    log(f"  write units per entry: mean {writes.mean:.2f}, min {min(r.total for r in rows):.0f}, max {max(r.total for r in rows):.0f}")
    log("  mean by target: " + ", ".join(f"{name} {units:.2f}" for name, units in writes.by_index.items()))
    by_type: dict[str, list] = {}
    for r in rows:
        by_type.setdefault(r.entry.type.value, []).append(r.total)
    log("  mean by type: " + ", ".join(f"{k} {statistics.fmean(v):.2f} (n={len(v)})" for k, v in sorted(by_type.items())))
    t = writes.typical
    log(f"  typical ~1 KB entry: {t.entry.type.value}/{t.entry.status.value} {t.entry.action}: entry JSON {t.detail_bytes} B, "
        f"stored item {t.item_bytes} B (compressed detail {t.body_bytes} B); write units {t.total:.0f} = table {t.table:.0f} + "
        + " + ".join(f"{name} {units:.0f}" for name, units in sorted(t.indexes.items())))


def measure_queries(bench: Bench, combos: list, now: datetime, repeats: int) -> dict[str, Run]:
    from activitylog.query.filters import parse_list_request
    from activitylog.service import Caller

    caller = Caller(ORG, "u_01", frozenset({"activity:read"}))
    for combination in combos:  # one unmeasured first page each: caches warm for both designs
        bench.service.list(caller, parse_list_request(dict(combination.params, limit=str(PAGE))), now=now)
    log(f"  {'combination':<62} {'ax':>2} {'pages':>5} {'items':>6} {'read':>7} {'RA':>6} {'RCU/pg':>7} "
        f"{'q/pg':>5} {'rnd':>4} {'max':>3} {'p50 ms':>7} {'p95 ms':>7}")
    ours = {}
    for c in combos:
        run = ours[c.name] = run_ours(bench.service, caller, c, now, repeats)
        flag = "  > 3" if run.read_amplification > 3 else ""
        flag += "  rounds > 2" if run.rounds_max > 2 else ""
        log(f"  {c.name:<62} {c.axes:>2} {len(run.pages):>5} {run.returned:>6} {run.scanned:>7} {run.read_amplification:>6.2f} "
            f"{run.rcu_per_page:>7.2f} {run.queries_per_page:>5.1f} {run.rounds_mean:>4.1f} {run.rounds_max:>3} "
            f"{percentile(run.latencies, 50):>7.1f} {percentile(run.latencies, 95):>7.1f}{flag}")
    return ours


def measure_naive(bench: Bench, combos: list, now: datetime, ours: dict[str, Run], budget: float) -> tuple[dict[str, Run], list[str]]:
    log(f"  {'combination':<62} {'pages':>5} {'items':>6} {'read':>8} {'RA':>8} {'RCU/pg':>8} {'rnd':>4} {'p50 ms':>8} {'RA ×':>7} {'same ids':>8}")
    naive, mismatches = {}, []
    for c in combos:
        run = naive[c.name] = run_naive(bench.shards, c, now, budget)
        mine = ours[c.name]
        same = all(a.ids == b.ids for a, b in zip(run.pages, mine.pages))
        if not same:
            mismatches.append(c.name)
        ratio = f"{run.read_amplification / mine.read_amplification:.1f}" if mine.scanned else "-"  # ours read nothing
        log(f"  {c.name:<62} {len(run.pages):>5} {run.returned:>6} {run.scanned:>8} {run.read_amplification:>8.2f} "
            f"{run.rcu_per_page:>8.2f} {run.rounds_mean:>4.1f} {percentile(run.latencies, 50):>8.1f} "
            f"{ratio:>7} {'yes' if same else 'NO':>8}")
    return naive, mismatches


def aws_model(ours: dict[str, Run]) -> dict[str, tuple[float, float]]:
    """Each combination's (p50, p95) page latency in AWS by ``latency_model``, from its measured pages."""
    return {name: latency_model.estimate((p.rounds, p.queries, p.capacity) for p in run.pages) for name, run in ours.items()}


def report_aws_model(ours: dict[str, Run]) -> None:
    modelled = aws_model(ours)
    log(f"  {'combination':<62} {'rnd':>4} {'q/pg':>5} {'RCU/pg':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for name, run in sorted(ours.items(), key=lambda pair: -modelled[pair[0]][1]):
        p50, p95 = modelled[name]
        log(f"  {name[:62]:<62} {run.rounds_mean:>4.1f} {run.queries_per_page:>5.1f} {run.rcu_per_page:>7.2f} {p50:>7.1f} {p95:>7.1f}"
            + ("  p95 > 100" if p95 > 100 else ""))


def summarize(args: argparse.Namespace, bench: Bench, now: datetime, combos: list, ours: dict, naive: dict,
              mismatches: list, writes: Writes, cold: coldstart.ColdStarts) -> dict:
    ra = {name: run.read_amplification for name, run in ours.items()}
    two_axes = [c.name for c in combos if c.axes == 2]
    empty = [c.name for c in combos if "no entry can match" in c.name or "never touched" in c.name]
    modelled = aws_model(ours)
    slowest = max(modelled, key=lambda name: modelled[name][1])
    rounds = [p.rounds for run in ours.values() for p in run.pages]
    latencies = [ms for run in ours.values() for ms in run.latencies]
    naive_latencies = [ms for run in naive.values() for ms in run.latencies]
    ra_mean, naive_ra_mean = statistics.fmean(ra.values()), statistics.fmean(r.read_amplification for r in naive.values())
    rcu_mean = statistics.fmean(r.rcu_per_page for r in ours.values())
    naive_rcu_mean = statistics.fmean(r.rcu_per_page for r in naive.values())
    targets = {
        "read_amplification_mean ≤ 1.5": ra_mean <= 1.5,
        "read_amplification_max ≤ 3 (every combination)": max(ra.values()) <= 3,
        "read_amplification_max_two_axes ≤ 3": max(ra[n] for n in two_axes) <= 3,
        "rounds_per_page_max ≤ 2 (every combination)": max(rounds) <= 2,
        "wcu_typical_1kb_entry ≤ 5": writes.typical.total <= 5,
        "cold_start_ms ≤ 300": cold.median("handler") <= 300,
        "cold_start_vs_floor ≤ 1.15": cold.ratio <= 1.15,
        "results_match_naive": not mismatches,
        "aws_p95_model_ms ≤ 100 (every combination)": modelled[slowest][1] <= 100,
        "empty_pairs_answered_without_reading_in_3_requests": all(
            ours[n].scanned == 0 and sum(p.queries for p in ours[n].pages) <= 3 for n in empty),
    }
    return {
        "entries": args.entries, "shards": bench.shards, "seed": args.seed, "now": iso(now),
        "read_amplification_mean": round(ra_mean, 3),
        "read_amplification_max": round(max(ra.values()), 3),
        "read_amplification_worst": max(ra, key=ra.get),
        "read_amplification_max_two_axes": round(max(ra[n] for n in two_axes), 3),
        "read_amplification_pooled": round(sum(r.scanned for r in ours.values()) / sum(r.returned for r in ours.values()), 3),
        "rounds_per_page_mean": round(statistics.fmean(rounds), 3),
        "rounds_per_page_max": max(rounds),
        "rcu_per_page_mean": round(rcu_mean, 3),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p95_ms": round(percentile(latencies, 95), 1),
        "naive_read_amplification_mean": round(naive_ra_mean, 3),
        "naive_rcu_per_page_mean": round(naive_rcu_mean, 3),
        "naive_latency_p50_ms": round(percentile(naive_latencies, 50), 1),
        "naive_ratio_read_amplification": round(naive_ra_mean / ra_mean, 2),
        "naive_ratio_rcu_per_page": round(naive_rcu_mean / rcu_mean, 2),
        "results_match_naive": not mismatches,
        "wcu_per_entry": round(writes.mean, 3),
        "wcu_per_entry_by_target": {k: round(v, 3) for k, v in writes.by_index.items()},
        "wcu_typical_1kb_entry": writes.typical.total,
        "aws_model": {"median_ms": latency_model.MEDIAN_MS, "p95_ms": latency_model.P95_MS,
                      "ms_per_read_unit": latency_model.MS_PER_READ_UNIT},
        "aws_p95_model_ms_max": round(modelled[slowest][1], 1),
        "aws_slowest_combination": slowest,
        "cold_start_function": cold.function,
        "cold_start_ms": round(cold.median("handler"), 1),
        "cold_start_floor_ms": round(cold.median("floor"), 1),
        "cold_start_vs_floor": round(cold.ratio, 3),
        "cold_start_in_process_ms": round(cold.median("handler", "in_process_ms"), 1),
        "cold_start_floor_in_process_ms": round(cold.median("floor", "in_process_ms"), 1),
        "combinations": {
            name: {"axes": c.axes, "pages": len(run.pages), "returned": run.returned, "read": run.scanned,
                   "read_amplification": round(run.read_amplification, 3), "rounds_mean": round(run.rounds_mean, 2),
                   "rounds_max": run.rounds_max, "rcu_per_page": round(run.rcu_per_page, 3),
                   "requests": sum(p.queries for p in run.pages),
                   "aws_p50_ms_model": round(modelled[name][0], 1), "aws_p95_ms_model": round(modelled[name][1], 1),
                   "p50_ms": round(percentile(run.latencies, 50), 1),
                   "naive_read_amplification": round(naive[name].read_amplification, 3)}
            for c in combos for name, run in [(c.name, ours[c.name])]
        },
        "targets": targets,
        "targets_met": all(targets.values()),
    }


def main() -> int:
    args = arguments()
    started = time.perf_counter()
    now = datetime.now(timezone.utc).replace(microsecond=0)  # whole seconds: reproducible windows and ids
    log(f"bench/query.py · {args.entries:,} entries · seed {args.seed} · now {iso(now)} · Python {sys.version.split()[0]}")
    with local_table(args.shards, args.writers) as bench:
        log(f"\n== Seed: {args.entries:,} entries over 30 days from activitylog_local.generator, BatchWriteItem · {bench.shards} shards")
        tallies = seed(bench.client, args.entries, now, bench.shards, args.seed, args.writers)
        record, heavy_user, week_user = report_seed(tallies)
        # Over 30 days every generated member touches every entity type: a new hire's first days do not
        untouched = (NEW_HIRE, next(t for t, _ in tallies["entity_type"].most_common() if t != "contact"))
        hire_new_member(bench, now)
        log(f"  and {NEW_HIRE}, a new hire, updated 20 contacts through ActivityService.record (their only entries)")
        log(f"\n== Write units: {args.write_samples} seed-like entries written one by one through EntryStore.put "
            f"(ReturnConsumedCapacity=INDEXES), in another org")
        writes = measure_writes(bench.service.store, now, bench.shards, args.seed, args.write_samples)
        report_writes(writes)
        combos = combinations(now, record, heavy_user, week_user, args.deep_pages, args.pages, untouched)
        log(f"\n== Queries: {len(combos)} combinations (ax: filter axes) through ActivityService.list, pages of {PAGE}, "
            f"{args.repeats} repetitions; RA = items read ÷ returned; rnd = dependent query rounds per page (mean, max)")
        ours = measure_queries(bench, combos, now, args.repeats)
        log(f"\n== AWS latency model (bench/latency_model.py: each request log-normal, median {latency_model.MEDIAN_MS:g} ms, "
            f"p95 {latency_model.P95_MS:g} ms, + {latency_model.MS_PER_READ_UNIT:g} ms per read unit; rounds in sequence, "
            f"a round's queries at once): DynamoDB's part of a page, slowest first")
        report_aws_model(ours)
        log(f"\n== Naive baseline: base-table partitions, every filter a FilterExpression, same merge, at most {args.naive_budget:.0f} s each")
        naive, mismatches = measure_naive(bench, combos, now, ours, args.naive_budget)
        log(f"\n== Cold start: fresh interpreter runs bench/cold_child.py; median of {args.cold_runs}, interleaved, after one warm-up each")
        cold = coldstart.measure(bench.endpoint, args.cold_runs)
        for variant, label in (("handler", f"ours: {cold.function}"), ("floor", "floor: resolver + botocore Query")):
            runs = cold.runs[variant]
            log(f"  {label}: process {cold.median(variant):.0f} ms (runs {', '.join(format(r['wall_ms'], '.0f') for r in runs)}); "
                f"in process: import {cold.median(variant, 'import_ms'):.0f} + answer {cold.median(variant, 'answer_ms'):.0f} ms; "
                f"{runs[0]['modules']} modules; {runs[0]['items']} items")
        summary = summarize(args, bench, now, combos, ours, naive, mismatches, writes, cold)
    log(f"\n== Overall: read amplification mean {summary['read_amplification_mean']}, max {summary['read_amplification_max']} "
        f"({summary['read_amplification_worst']}), two axes max {summary['read_amplification_max_two_axes']}; rounds per page "
        f"mean {summary['rounds_per_page_mean']}, max {summary['rounds_per_page_max']}; naive ÷ ours: RA "
        f"{summary['naive_ratio_read_amplification']}×, RCU {summary['naive_ratio_rcu_per_page']}×; cold start "
        f"{summary['cold_start_ms']} ms = {summary['cold_start_vs_floor']}× the floor")
    log(f"== Targets ({TARGETS}): " + "; ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in summary["targets"].items()))
    log(f"== Total {time.perf_counter() - started:.0f} s")
    print(json.dumps(summary, separators=(",", ":"), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
