"""What every benchmark shares: its settings, a fresh DynamoDB Local table and the output helpers."""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "infra"), str(ROOT)]  # samlocal and activitylog_local; tests.support.kit (events, signing)

ORG = "org_bench"
WCU_ORG = "org_bench_writes"
RETENTION_DAYS = 730  # the default retention class: how long an entry stays hot
TABLE = "activity-bench"
PAGE = 50
DAYS = 30

# Settings the domain reads from the environment, set before any domain import.
BENCH_ENV = {
    "TABLE_NAME": TABLE,
    "CURSOR_SECRET": "bench-cursor-secret",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "ActivityLogBench",
    "POWERTOOLS_SERVICE_NAME": "activity-log",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
os.environ.update(BENCH_ENV)  # at import: bench modules import the domain, which reads these


def log(message: str = "") -> None:
    print(message, flush=True)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Bench:
    endpoint: str
    jvm_pid: int
    client: Any  # boto3 DynamoDB client on DynamoDB Local
    service: Any  # activitylog.service.ActivityService
    shards: int


@contextmanager
def local_table(shards: int | None = None, writers: int = 8, db_path: Path | None = None) -> Iterator[Bench]:
    """DynamoDB Local on a free port (in memory, or in ``db_path``: a million entries in memory take
    ~11 GB of the JVM's native memory), the table from template.yaml, the service bound to it."""
    os.environ.update(BENCH_ENV)
    if shards:
        os.environ["DEFAULT_SHARDS"] = str(shards)
    from samlocal.dynamodb import DynamoDBLocal, local_aws_environment
    from samlocal.template import create_table

    with DynamoDBLocal(db_path=db_path) as ddb:
        os.environ.update(local_aws_environment(ddb.endpoint))
        import boto3
        from botocore.config import Config

        from activitylog import wiring

        client = boto3.client("dynamodb", endpoint_url=ddb.endpoint,
                              config=Config(parameter_validation=False, max_pool_connections=writers + 4,
                                            retries={"max_attempts": 10, "mode": "standard"}))
        create_table(client, TABLE)
        wiring.reset()
        service = wiring.container().service  # binds the models to TABLE_NAME's table
        yield Bench(ddb.endpoint, ddb.process.pid, client, service, service.config.org(ORG).shards)
