"""Startup benchmark: how long `make dev`'s `activitylog serve` takes to answer, first and again.

Measured from spawning the process to the stack being ready (it writes ``stack.json``
into its data folder once the HTTP server listens), for:

1. a first start on an empty data folder: persistent DynamoDB Local, tables and moto
   resources from template.yaml, and the demo org seeded (3,000 entries through the API);
2. a second start on the same folder (the data is kept; nothing is seeded);

beside the baseline measured in the same run: DynamoDB Local alone, started and answering.
The target (issue 3) is under 60 s once dependencies are installed.

    .venv/bin/python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "infra"))

from samlocal.dynamodb import DynamoDBLocal  # noqa: E402


def serve_until_ready(data_dir: Path) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "activitylog_local.cli", "--data-dir", str(data_dir), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        while not (data_dir / "stack.json").exists():
            if process.poll() is not None:
                raise RuntimeError(f"activitylog serve exited with {process.returncode}")
            if time.perf_counter() - started > 300:
                raise RuntimeError("activitylog serve was not ready after 300 s")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C does: it stops everything it started
        process.wait(timeout=60)


def dynamodb_local_alone() -> float:
    started = time.perf_counter()
    with DynamoDBLocal():
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    first, again, baseline = [], [], []
    for run in range(args.runs):
        baseline.append(dynamodb_local_alone())
        with tempfile.TemporaryDirectory() as folder:
            first.append(serve_until_ready(Path(folder)))
            again.append(serve_until_ready(Path(folder)))
        print(f"run {run + 1}: DynamoDB Local alone {baseline[-1]:.1f} s; serve first start (seeding) "
              f"{first[-1]:.1f} s; serve again {again[-1]:.1f} s", flush=True)
    figures = {
        "dynamodb_local_alone_s": round(statistics.median(baseline), 2),
        "first_start_s": round(statistics.median(first), 2),
        "restart_s": round(statistics.median(again), 2),
        "restart_over_dynamodb_local": round(statistics.median(again) / statistics.median(baseline), 2),
        "runs": args.runs,
    }
    print(f"medians of {args.runs}: DynamoDB Local alone {figures['dynamodb_local_alone_s']} s, first start "
          f"{figures['first_start_s']} s (target < 60 s), restart {figures['restart_s']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
