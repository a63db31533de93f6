"""Chaos benchmark: the chaos tier's ledger of writes, longer and with more clients.

Run by hand, never by ``make test`` (``tests/chaos`` runs the same harness for about 70 s with
6 clients). ``--clients`` threads write entries (with ``Idempotency-Key`` retries, some sent
twice at once), batches, job runs with progress and webhook deliveries (up to 3 times, some at
once) through ``activitylog serve`` for ``--seconds``, while every 70 s DynamoDB Local is paused
for 20-30 s, the write functions' environments are killed twice and the stack is SIGKILLed and
started again (``tests/chaos/harness.bench_schedule``). Then each operation is looked up.

The last line is one JSON object: ``operations``, ``acknowledged``, ``lost``, ``duplicated``,
``wrong_content``, ``jobs_not_final``, ``5xx`` by kind (only "503 with Retry-After" and "500
environment killed under it" are allowed) and the faults that happened. The baseline is the
same ledger with no faults (``--baseline``, in the same run): its ``5xx`` must be empty.

    .venv/bin/python bench/chaos.py                       # 12 clients, 280 s of faults: about 7 minutes
    .venv/bin/python bench/chaos.py --clients 6 --seconds 140
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.chaos.harness: the tier's own harness

from tests.chaos.harness import ChaosRun, bench_schedule  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=280)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--baseline", type=float, default=60, help="seconds of the same ledger with no faults first (0: none)")
    args = parser.parse_args()
    figures = {"clients": args.clients, "seconds": args.seconds}
    if args.baseline:
        with tempfile.TemporaryDirectory(prefix="chaos-baseline-") as folder:
            baseline = ChaosRun(Path(folder), args.clients, args.baseline, schedule=[], seed=args.seed, log=print).run()
        print("baseline:", json.dumps(baseline), flush=True)
        figures["baseline"] = {key: baseline[key] for key in ("operations", "acknowledged", "lost", "duplicated", "5xx")}
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        report = ChaosRun(Path(folder), args.clients, args.seconds, schedule=bench_schedule(args.seconds), seed=args.seed,
                          log=print).run()
    print("examples:", json.dumps(report.pop("examples")), flush=True)
    print(json.dumps({**figures, **report}))


if __name__ == "__main__":
    main()
