"""The export benchmark: 100,000 and 1,000,000 entries exported by the export worker, beside a baseline.

1. Seed one org with the largest size (default 1,000,000 entries over 30 days) from the
   shared generator, written with BatchWriteItem (``seeding.py``) into DynamoDB Local (its
   files in a temporary folder: in memory a million entries took 11 GB). Each
   smaller size is the window of its newest entries (100,000: about the last three days).
2. For each size, the export of that window is requested as ``POST /exports`` requests it
   (``ExportService.request``: it reads the threshold's rows, records the export IN_PROGRESS
   and starts its state machine, here moto's), then the worker's handler runs every step
   (begin, write until done, complete) in a fresh interpreter (``export_child.py``), as the
   state machine invokes it, against S3 on a moto server of its own: rows per second over
   the steps, and the worker's peak resident memory.
3. Baseline, in the same kind of process: a plain loop of Query pages into ``csv.writer``, one
   thread per table partition (no service, no merge, no S3): the floor of CPU per row.

Targets: at least 20,000 rows/s, and peak memory at the largest size within 1.2x of the
smallest (flat). The last line is one JSON object: export_rows_per_s, peak_rss_mb_100k,
peak_rss_mb_1m, and the rest of the figures.

    .venv/bin/python bench/export.py [--sizes 100000 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from common import DAYS, ROOT, local_table, log
from seeding import seed

from activitylog import ids

ORG = "org_export_bench"
BUCKET = "activity-log-exports-bench"
# DynamoDB Local's files: in memory a million entries took 11 GB of the JVM's native memory, on a
# disk it wrote 150 entries/s; a RAM-backed folder holds just the database's pages, at memory's speed.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None
TARGET_ROWS_PER_S = 20_000
TARGET_FLAT = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="export-bench-", dir=SCRATCH) as data, local_table(db_path=Path(data)) as bench, \
            moto_server() as aws_url:
        os.environ.update(EXPORT_ENV, AWS_ENDPOINT_URL_S3=aws_url, AWS_ENDPOINT_URL_SFN=aws_url)
        prepare_aws()
        largest = max(args.sizes)
        log(f"Seeding {ORG}: {largest:,} entries over {DAYS} days")
        seeded_at, written = time.perf_counter(), []
        seed(bench.client, largest, now, bench.shards, args.seed, args.writers, org=ORG, ids=written)
        seed_seconds = time.perf_counter() - seeded_at
        written.sort(reverse=True)

        results = {}
        for size in sorted(args.sizes):
            # The window of the newest `size` entries: from the millisecond of the size-th newest
            low, high = ids.lower_bound(ids.occurred_at(written[size - 1])), ids.upper_bound(now)
            expected = sum(1 for entry_id in written if low <= entry_id <= high)
            filters = {"from": iso_ms(ids.occurred_at(written[size - 1])), "to": iso_ms(now)}
            export_id = request_export(bench.service, filters)
            log(f"\nExport of {expected:,} entries ({filters['from']} to {filters['to']}, export {export_id}): "
                "the worker's steps in a fresh process")
            worker = child("worker", export_id, ORG, endpoint=bench.endpoint, aws_url=aws_url)
            assert worker["rows"] == expected, f"the export holds {worker['rows']:,} rows, not {expected:,}"
            log(f"  worker    {worker['rows']:>9,} rows  {worker['bytes'] / 1e6:7.1f} MB  {worker['parts']:>3} parts  "
                f"{sum(s['step'] == 'write' for s in worker['steps'])} write steps  {worker['seconds']:6.1f} s  "
                f"{worker['rows'] / worker['seconds']:>7,.0f} rows/s  (CPU {worker['cpu_seconds']:5.1f} s: "
                f"{worker['rows'] / worker['cpu_seconds']:,.0f} rows per CPU second)  peak RSS {worker['peak_rss_mb']:.0f} MB  "
                f"largest state {max(s['state_bytes'] for s in worker['steps'])} bytes")
            floor = child("baseline", ORG, low, high, endpoint=bench.endpoint, aws_url=aws_url)
            assert floor["rows"] == expected, f"the baseline read {floor['rows']:,} rows, not {expected:,}"
            log(f"  baseline  {floor['rows']:>9,} rows  {floor['bytes'] / 1e6:7.1f} MB  Query pages -> csv.writer, no S3    "
                f"{floor['seconds']:6.1f} s  {floor['rows'] / floor['seconds']:>7,.0f} rows/s  (CPU {floor['cpu_seconds']:5.1f} s: "
                f"{floor['rows'] / floor['cpu_seconds']:,.0f} rows per CPU second)  peak RSS {floor['peak_rss_mb']:.0f} MB")
            results[size] = {"worker": worker, "baseline": floor}

    smallest, largest = min(results), max(results)
    rates = {size: r["worker"]["rows"] / r["worker"]["seconds"] for size, r in results.items()}
    floors = {size: r["baseline"]["rows"] / r["baseline"]["seconds"] for size, r in results.items()}
    rss = {size: r["worker"]["peak_rss_mb"] for size, r in results.items()}
    rate = rates[largest]
    flat = rss[largest] / rss[smallest]
    total = time.perf_counter() - started
    log("\nSummary")
    log(f"  export rows/s at {largest:,}: {rate:,.0f} (target >= {TARGET_ROWS_PER_S:,}); baseline floor {floors[largest]:,.0f} rows/s "
        f"(the worker at {rate / floors[largest]:.0%} of it); the worker's own CPU allows "
        f"{results[largest]['worker']['rows'] / results[largest]['worker']['cpu_seconds']:,.0f} rows/s")
    log(f"  worker peak RSS: {rss[smallest]:.0f} MB at {smallest:,}, {rss[largest]:.0f} MB at {largest:,} "
        f"({flat:.2f}x; target <= {TARGET_FLAT}x)")
    log(f"  time: seeding {seed_seconds:.0f} s, whole run {total:.0f} s")
    print(json.dumps({
        "export_rows_per_s": round(rate),
        "peak_rss_mb_100k": round(rss.get(100_000, rss[smallest]), 1),
        "peak_rss_mb_1m": round(rss.get(1_000_000, rss[largest]), 1),
        "rows_per_s_by_size": {str(size): round(value) for size, value in rates.items()},
        "baseline_rows_per_s_by_size": {str(size): round(value) for size, value in floors.items()},
        "baseline_peak_rss_mb_by_size": {str(size): round(r["baseline"]["peak_rss_mb"], 1) for size, r in results.items()},
        "worker_rows_per_cpu_s_by_size": {str(size): round(r["worker"]["rows"] / r["worker"]["cpu_seconds"]) for size, r in results.items()},
        "baseline_rows_per_cpu_s_by_size": {str(size): round(r["baseline"]["rows"] / r["baseline"]["cpu_seconds"])
                                            for size, r in results.items()},
        "peak_rss_ratio": round(flat, 3),
        "targets": {"rows_per_s": TARGET_ROWS_PER_S, "peak_rss_ratio": TARGET_FLAT},
        "targets_met": {"rows_per_s": rate >= TARGET_ROWS_PER_S, "flat_memory": flat <= TARGET_FLAT},
        "seed_seconds": round(seed_seconds), "total_seconds": round(total),
    }), flush=True)


# Part size and steps as deployed (template.yaml's defaults); a plain link key; S3 and Step Functions on moto.
EXPORT_ENV = {
    "EXPORT_BUCKET": BUCKET,
    "EXPORT_PART_BYTES": str(8 * 1024 * 1024),
    "EXPORT_PARTS_PER_STEP": "64",
    "EXPORT_LINK_SECRET": "bench-link-secret",
    "EXPORT_LINK_BASE_URL": "https://api.bench.example",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


class moto_server:
    """A moto server in a process of its own (S3 and Step Functions): its memory is not the worker's."""

    def __enter__(self) -> str:
        from samlocal.dynamodb import free_port

        port = free_port()
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1)
                return url
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the moto server did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def prepare_aws() -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    machine = boto3.client("stepfunctions").create_state_machine(
        name="export-bench", roleArn="arn:aws:iam::123456789012:role/bench",
        definition=json.dumps({"StartAt": "Steps", "States": {"Steps": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    os.environ["EXPORT_STATE_MACHINE"] = machine  # the parent's request starts it; the child runs the steps


def iso_ms(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def request_export(activity, filters: dict) -> str:
    """The export as POST /exports makes it: the threshold's rows read, then recorded and started."""
    from activitylog.config import Settings
    from activitylog.exports.files import ExportFiles
    from activitylog.exports.service import ExportRuns, ExportService, LargeExport
    from activitylog.service import Caller

    config = Settings.from_environ().exports
    exports = ExportService(activity, config, ExportFiles(config.bucket), ExportRuns(config.state_machine))
    caller = Caller(ORG, "u_01", frozenset({"activity:read"}), name="Bench Reader", email="bench@example.com")
    answer = exports.request(caller, filters)
    assert isinstance(answer, LargeExport), "the export should be large enough to run in the background"
    return answer.export.id


def child(kind: str, *args: str, endpoint: str, aws_url: str) -> dict:
    from samlocal.template import load

    worker = load()["Resources"]["ExportWorkerFunction"]["Properties"]
    # The function's own settings that are plain values in template.yaml (its malloc settings among them).
    own = {name: value for name, value in worker["Environment"]["Variables"].items() if isinstance(value, str)}
    env = {**os.environ, **own, "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_S3": aws_url,
           "BENCH_CODE_DIR": str(ROOT / worker["CodeUri"]), "BENCH_HANDLER": worker["Handler"],
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT / "infra")])}
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("export_child.py")), kind, *args],
                            env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
