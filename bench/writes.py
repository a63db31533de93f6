"""Write units per entry: seed-like entries written one by one through ``EntryStore.put``.

``ReturnConsumedCapacity=INDEXES`` is added to the store's own PutItem by a botocore
event hook, so DynamoDB Local reports the table's and every index's write units.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common import RETENTION_DAYS, TABLE, WCU_ORG
from internals import store_client
from seeding import build_entry, detail_bytes, item_for
from sizes import item_bytes

from activitylog.config import DEFAULT_ARCHIVE_DAYS
from activitylog.storage import OrgStorage


@dataclass
class Write:
    entry: Any
    total: float
    table: float
    indexes: dict[str, float]
    item_bytes: int
    detail_bytes: int
    body_bytes: int
    ms: float


@dataclass
class Writes:
    rows: list[Write]
    identical: int  # stored items equal to the seed's item for the same entry
    by_index: dict[str, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return statistics.fmean(r.total for r in self.rows)

    @property
    def typical(self) -> Write:
        """The entry closest to 1 KB as JSON."""
        return min(self.rows, key=lambda r: abs(r.detail_bytes - 1024))


def measure_writes(store: Any, now: datetime, shards: int, seed_value: int, samples: int) -> Writes:
    client = store_client()
    captured: list[dict] = []

    def ask_for_indexes(params: dict, **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"

    def read_capacity(parsed: dict, **_: Any) -> None:
        captured.append(parsed.get("ConsumedCapacity") or {})

    client.meta.events.register("before-parameter-build.dynamodb.PutItem", ask_for_indexes)
    client.meta.events.register("after-call.dynamodb.PutItem", read_capacity)
    rng = random.Random(f"{seed_value}:writes")
    rows, identical = [], 0
    try:
        for _ in range(samples):
            entry = build_entry(rng, now, WCU_ORG)
            expected = item_for(entry, WCU_ORG, shards)
            captured.clear()
            started = time.perf_counter()
            store.put(OrgStorage(WCU_ORG, shards, shards, RETENTION_DAYS, DEFAULT_ARCHIVE_DAYS), entry)
            ms = (time.perf_counter() - started) * 1000
            capacity = captured[-1]
            stored = client.get_item(TableName=TABLE, Key={"pk": expected["pk"], "sk": expected["sk"]},
                                     ConsistentRead=True)["Item"]
            identical += stored == expected
            rows.append(Write(
                entry, float(capacity.get("CapacityUnits", 0.0)), float((capacity.get("Table") or {}).get("CapacityUnits", 0.0)),
                {name: float(v.get("CapacityUnits", 0.0)) for name, v in (capacity.get("GlobalSecondaryIndexes") or {}).items()},
                item_bytes(stored), detail_bytes(entry), len(stored.get("bd", {}).get("B", b"")), ms))
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.PutItem", ask_for_indexes)
        client.meta.events.unregister("after-call.dynamodb.PutItem", read_capacity)
    names = sorted({name for r in rows for name in r.indexes})
    by_index = {"table": statistics.fmean(r.table for r in rows)}
    by_index |= {name: statistics.fmean(r.indexes.get(name, 0.0) for r in rows) for name in names}
    return Writes(rows, identical, by_index)
