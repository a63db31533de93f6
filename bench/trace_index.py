"""What ``by_trace`` (GET /activities?trace_id=) costs the writes: write units per 1,000 entries written through
``EntryStore.put``, untraced (the baseline: what every write cost before) and traced (every entry written under
a W3C traceparent, as an OpenTelemetry-instrumented platform would send), in one run over the same entries.

Every PutItem asks for ``ReturnConsumedCapacity=INDEXES``, so DynamoDB Local reports the table's and each
index's units: the traced run's extra is ``by_trace``'s alone (the index is sparse: an untraced entry pays
nothing). A traced job's status change also moves its by_trace item (two small writes), as every index's does.

Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from common import RETENTION_DAYS, WCU_ORG, local_table, log
from internals import store_client
from seeding import build_entry

from activitylog import ids
from activitylog.config import DEFAULT_ARCHIVE_DAYS
from activitylog.storage import OrgStorage


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=22)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc)
    with local_table(shards=1) as bench:
        store = bench.service.store
        where = OrgStorage(WCU_ORG, 1, 1, RETENTION_DAYS, DEFAULT_ARCHIVE_DAYS)
        entries = [build_entry(rng, now, WCU_ORG) for _ in range(args.entries)]
        client = store_client()
        captured: list[dict] = []

        def ask(params: dict, **_: Any) -> None:
            params["ReturnConsumedCapacity"] = "INDEXES"

        def read(parsed: dict, **_: Any) -> None:
            captured.append(parsed.get("ConsumedCapacity") or {})

        for operation in ("PutItem",):
            client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", ask)
            client.meta.events.register(f"after-call.dynamodb.{operation}", read)

        def units(batch: list) -> tuple[float, dict[str, float]]:
            captured.clear()
            for entry in batch:
                store.put(where, entry)
            by_index: dict[str, float] = defaultdict(float)
            for capacity in captured:
                by_index["table"] += float((capacity.get("Table") or {}).get("CapacityUnits", 0.0))
                for name, used in (capacity.get("GlobalSecondaryIndexes") or {}).items():
                    by_index[name] += float(used.get("CapacityUnits", 0.0))
            return sum(float(c.get("CapacityUnits", 0.0)) for c in captured), dict(by_index)

        def traced(entry: Any) -> Any:  # the same entry under a new id, written under a trace
            return replace(entry, id=ids.new_id(entry.occurred_at), trace_id=f"{rng.getrandbits(128) | 1:032x}",
                           span_id=f"{rng.getrandbits(64) | 1:016x}")

        base_total, base_by = units(entries)
        traced_entries = [traced(e) for e in entries]
        traced_total, traced_by = units(traced_entries)

    per = 1000 / len(entries)
    figures = {
        "entries": len(entries),
        "baseline_wcu_per_1000": round(base_total * per, 1),
        "traced_wcu_per_1000": round(traced_total * per, 1),
        "by_trace_wcu_per_1000": round(traced_by.get("by_trace", 0.0) * per, 1),
        "baseline_by_trace_wcu_per_1000": round(base_by.get("by_trace", 0.0) * per, 1),
        "increase_pct_when_every_entry_is_traced": round(100 * (traced_total - base_total) / base_total, 2),
    }
    log(f"write units per 1,000 entries: untraced {figures['baseline_wcu_per_1000']} (by_trace "
        f"{figures['baseline_by_trace_wcu_per_1000']}), every entry traced {figures['traced_wcu_per_1000']} "
        f"(by_trace {figures['by_trace_wcu_per_1000']}): +{figures['increase_pct_when_every_entry_is_traced']} %")
    log("per index, untraced: " + ", ".join(f"{k} {v * per:.1f}" for k, v in sorted(base_by.items())))
    log("per index, traced:   " + ", ".join(f"{k} {v * per:.1f}" for k, v in sorted(traced_by.items())))
    print(json.dumps({"bench": "trace_index", **figures}), flush=True)


if __name__ == "__main__":
    main()
