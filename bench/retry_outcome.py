"""What a retried failure's outcome costs: the write units of writing its latest run's state on it.

Each sample is a FAILED job as the demo's SYNC_SQUARE_STOCK failure is (error, stack trace, entity, chain)
and one retry run of it, recorded as the ingest records a run: its start (``record_once``), a progress
report and its finish (``amend``). The baseline, in the same run, is the same run with the outcome write
switched off (``ActivityService._note_retry``): the difference is what showing "Retried · succeeded" on the
row costs. ``ReturnConsumedCapacity=INDEXES`` is added to the store's own calls by a botocore event hook,
so DynamoDB Local reports the table's and every index's units.

    .venv/bin/python bench/retry_outcome.py --samples 40 --shards 1
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from common import ORG, local_table, log
from internals import store_client

WRITES = ("PutItem", "UpdateItem", "TransactWriteItems", "DeleteItem")
READS = ("GetItem", "BatchGetItem", "Query")
STACK = "\n".join(f'  File "/var/task/square/sync.py", line {100 + n}, in sync_location\n    response = client.inventory.batch_retrieve()'
                  for n in range(12)) + "\nsquare.ApiException: 401 UNAUTHORIZED"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40, help="failures retried, per variant")
    parser.add_argument("--shards", type=int, default=1, help="the org's write shards (more than one: a shard look-up)")
    return parser.parse_args()


class Meter:
    """Capacity of the store's own calls, by operation and (for writes) by table and index."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.units: dict[str, float] = defaultdict(float)

    def __enter__(self) -> "Meter":
        for operation in WRITES + READS:
            self.client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self.client.meta.events.register(f"after-call.dynamodb.{operation}", self._read)
        return self

    def __exit__(self, *_: Any) -> None:
        for operation in WRITES + READS:
            self.client.meta.events.unregister(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self.client.meta.events.unregister(f"after-call.dynamodb.{operation}", self._read)

    @staticmethod
    def _ask(params: dict, **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"

    def _read(self, parsed: dict, model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") or []
        for part in consumed if isinstance(consumed, list) else [consumed]:
            kind = "write" if model.name in WRITES else "read"
            self.units[f"{kind}:total"] += float(part.get("CapacityUnits", 0.0))
            if kind == "write":
                self.units["write:table"] += float((part.get("Table") or {}).get("CapacityUnits", 0.0))
                for index, units in (part.get("GlobalSecondaryIndexes") or {}).items():
                    self.units[f"write:{index}"] += float(units.get("CapacityUnits", 0.0))


def failure(now: datetime, n: int) -> dict:
    return {"type": "BACKGROUND_JOB", "status": "FAILED", "actor": {"kind": "system", "id": "system", "name": "system"},
            "action": "synced", "event": "SYNC_SQUARE_STOCK", "entity": {"type": "integration", "id": "int_square", "label": "Square"},
            "correlation_id": f"run_sync_square_stock_{n}", "occurred_at": (now - timedelta(hours=3, minutes=n)).isoformat(),
            "metadata": {"job": "SYNC_SQUARE_STOCK", "params": {"location_ids": ["L_TASTING_ROOM", "L_WAREHOUSE"]},
                         "total": 286, "processed": 118, "duration_ms": 48_000},
            "error": {"message": "Square API returned 401 UNAUTHORIZED: the access token has expired", "type": "ApiException",
                      "stack": STACK}}


def lifecycle(service: Any, now: datetime, samples: int, offset: int) -> tuple[dict[str, float], list[str]]:
    """Record ``samples`` failures, then run one retry of each through start, progress and finish: the units
    the runs cost (the failures' own writes not counted), and the failures' ids."""
    from activitylog import ids
    from activitylog.inputs import EntryUpdate, NewEntry
    from activitylog.service import Caller

    writer = Caller(ORG, "svc_bench", frozenset({"activity:write", "activity:read"}))
    originals = [service.record(writer, NewEntry.model_validate(failure(now, offset + n))).id for n in range(samples)]
    with Meter(store_client()) as meter:
        for n, original in enumerate(originals):
            document = {**failure(now, offset + n), "status": "IN_PROGRESS", "retry_of": original}
            document.pop("error")
            run_id = ids.new_id(now - timedelta(minutes=samples - n))
            document["occurred_at"] = ids.occurred_at(run_id).isoformat()
            document["metadata"] = {**document["metadata"], "processed": 0}
            service.record_once(ORG, NewEntry.model_validate(document), "svc_jobs", run_id, sequence=1)
            service.amend(ORG, run_id, EntryUpdate.model_validate({"sequence": 2, "metadata": {"processed": 140}}))
            service.amend(ORG, run_id, EntryUpdate.model_validate({"status": "SUCCESS", "sequence": 3, "metadata": {"processed": 286}}))
    return {name: units / samples for name, units in meter.units.items()}, originals


def main() -> None:
    args = arguments()
    now = datetime.now(timezone.utc)
    with local_table(shards=args.shards) as bench:
        service = bench.service
        note = service._note_retry  # the bench's one switch: the outcome write off for the baseline
        service._note_retry = lambda where, run: None
        baseline, _ = lifecycle(service, now, args.samples, 0)
        service._note_retry = note
        with_outcome, originals = lifecycle(service, now, args.samples, 1000)
        shown = sum(1 for original in originals if service.stored(ORG, original).retried)
    extra = {name: round(with_outcome.get(name, 0.0) - baseline.get(name, 0.0), 2) for name in sorted(set(with_outcome) | set(baseline))}
    log(f"per retry run (start, one progress report, finish), {args.samples} samples, {args.shards} shard(s):")
    log(f"  {'':<28}{'baseline':>10}{'with outcome':>14}{'difference':>12}")
    for name in sorted(set(with_outcome) | set(baseline)):
        log(f"  {name:<28}{baseline.get(name, 0.0):>10.2f}{with_outcome.get(name, 0.0):>14.2f}{extra[name]:>12.2f}")
    log(f"  originals showing their outcome: {shown}/{len(originals)}")
    figures = {
        "samples": args.samples,
        "shards": args.shards,
        "baseline_wcu_per_run": round(baseline.get("write:total", 0.0), 2),
        "with_outcome_wcu_per_run": round(with_outcome.get("write:total", 0.0), 2),
        "outcome_wcu_per_run": extra.get("write:total", 0.0),
        "outcome_wcu_table": extra.get("write:table", 0.0),
        "outcome_wcu_indexes": round(sum(v for k, v in extra.items() if k.startswith("write:") and k not in ("write:total", "write:table")), 2),
        "outcome_rcu_per_run": extra.get("read:total", 0.0),
        "baseline_rcu_per_run": round(baseline.get("read:total", 0.0), 2),
        "originals_showing_outcome": shown,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
