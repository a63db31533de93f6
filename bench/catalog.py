"""What the catalogue (GET /catalog's counts) costs the writes: capacity units per 1,000 entries written through
``EntryStore.put``, with the catalogue and without it (the baseline), in one run.

Entries come from the shared generator (its actions and webhook events). Every request of the store's client
asks for ``ReturnConsumedCapacity=TOTAL``; a request naming a ``catalog#`` item is the catalogue's. The
entries are dated ``--rate`` a second apart on a simulated clock (the tally's interval reads it), each run on
a fresh table. Write units are DynamoDB Local's for the entries; for the catalogue, one per request (its
items are far below 1 KB, and AWS bills a write its condition refused, which Local reports as 0).

- ``baseline``: the catalogue switched off (``note_catalog`` does nothing): what the log cost before;
- ``every_write``: no interval: each entry adds to its names' counts at once (the batched-ADD design);
- ``interval``: the design shipped: one container writes each name at most once per ``CATALOG_INTERVAL``;
- ``cold``: as ``interval``, a new container every ``--per-container`` entries (Lambda recycling its
  environments): each new container writes each name it meets once, at once.

Also reported: the uses still in the containers' tallies at the end (what the counts lag by, and what a
container Lambda retires would take with it). Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from common import RETENTION_DAYS, WCU_ORG, local_table, log
from internals import catalogue_clock, catalogue_tally_left, store_client
from seeding import build_entry

from activitylog.config import DEFAULT_ARCHIVE_DAYS
from activitylog.details import DetailStore
from activitylog.storage import OrgStorage
from activitylog.store import EntryStore
from activitylog.store.catalog import CATALOG_INTERVAL

OPERATIONS = ("PutItem", "BatchGetItem", "TransactWriteItems", "UpdateItem")
MODES = ("baseline", "every_write", "interval", "cold")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000, help="entries written per run")
    parser.add_argument("--rate", type=float, default=10.0, help="entries a second on the simulated clock")
    parser.add_argument("--per-container", type=int, default=100, help="entries a container writes before a new one (cold run)")
    parser.add_argument("--seed", type=int, default=20261205)
    return parser.parse_args()


class Capacity:
    """Consumed capacity of the store's client, per operation, and whether each request named the catalogue."""

    def __init__(self) -> None:
        self.units: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._client = store_client()
        self._pending: list[bool] = []

    def _ask(self, params: dict, **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"
        self._pending.append("catalog#" in json.dumps(params, default=str))

    def _answer(self, parsed: dict, model: Any, **_: Any) -> None:
        counted = self._pending.pop(0) if self._pending else False
        consumed = parsed.get("ConsumedCapacity") or []
        units = sum(c.get("CapacityUnits", 0.0) for c in (consumed if isinstance(consumed, list) else [consumed]))
        what = f"{'catalogue' if counted else 'entries'} {model.name}"
        self.units[what] += units
        self.requests[what] += 1

    def __enter__(self) -> "Capacity":
        for operation in OPERATIONS:
            self._client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self._client.meta.events.register(f"after-call.dynamodb.{operation}", self._answer)
        return self

    def __exit__(self, *_: Any) -> None:
        for operation in OPERATIONS:
            self._client.meta.events.unregister(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self._client.meta.events.unregister(f"after-call.dynamodb.{operation}", self._answer)


def write_all(entries: list[Any], mode: str, args: argparse.Namespace) -> tuple[Capacity, float, int, int]:
    """Write the entries in ``mode`` on a fresh table: (capacity, seconds, uses counted in AWS, uses left in tallies)."""
    clock = [0.0]
    with catalogue_clock(clock, 0.0 if mode == "every_write" else CATALOG_INTERVAL), local_table(shards=1):
        where = OrgStorage(WCU_ORG, 1, 1, RETENTION_DAYS, DEFAULT_ARCHIVE_DAYS)
        stores = [EntryStore(DetailStore(None))]
        started = time.perf_counter()
        with Capacity() as capacity:
            for index, entry in enumerate(entries):
                clock[0] = index / args.rate
                if mode == "cold" and index and index % args.per_container == 0:
                    stores.append(EntryStore(DetailStore(None)))  # a new execution environment: nothing tallied
                if mode == "baseline":
                    stores[-1].note_catalog = lambda org, written: None  # type: ignore[method-assign]
                stores[-1].put(where, entry)
        seconds = time.perf_counter() - started
        stored = sum(a["count"] for a in stores[0].catalog_counts(WCU_ORG)["actions"])
        return capacity, seconds, stored, sum(catalogue_tally_left(s) for s in stores)


def main() -> None:
    args = arguments()
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc)
    with local_table(shards=1):  # build_entry reads the service's settings
        entries = [build_entry(rng, now, WCU_ORG) for _ in range(args.entries)]
    actions = {(e.type.value, e.action) for e in entries}
    events = {e.event for e in entries if e.type.value == "WEBHOOK"}
    log(f"{len(entries)} entries: {len(actions)} (type, action) names, {len(events)} webhook events, "
        f"{args.rate:g}/s on the simulated clock ({len(entries) / args.rate:.0f} s)")
    per_thousand = 1000 / len(entries)
    figures: dict[str, Any] = {"entries": len(entries), "actions": len(actions), "events": len(events),
                               "rate_per_s": args.rate, "interval_s": CATALOG_INTERVAL}
    for mode in MODES:
        capacity, seconds, stored, left = write_all(entries, mode, args)
        entry_wcu = sum(u for what, u in capacity.units.items() if what.startswith("entries"))
        catalogue_wcu = capacity.units["catalogue UpdateItem"]
        log(f"\n== {mode}: {seconds:.1f} s; action uses counted {stored}, left in tallies {left}")
        for what in sorted(capacity.units):
            log(f"  {what:28} {capacity.requests[what]:6} requests  {capacity.units[what]:9.1f} units")
        figures[mode] = {
            "entry_wcu_per_1000": round(entry_wcu * per_thousand, 1),
            "catalogue_wcu_per_1000": round(catalogue_wcu * per_thousand, 1),
            "catalogue_writes": capacity.requests["catalogue UpdateItem"],
            # DynamoDB bills a write refused by its condition (last seen later already) too: a unit per request
            "catalogue_wcu_per_1000_in_aws": round(capacity.requests["catalogue UpdateItem"] * per_thousand, 1),
            "action_uses_counted": stored,
            "uses_left_in_tallies": left,
        }
    base = figures["baseline"]["entry_wcu_per_1000"]
    for mode in MODES[1:]:
        total = figures[mode]["entry_wcu_per_1000"] + figures[mode]["catalogue_wcu_per_1000_in_aws"]
        figures[mode]["write_units_increase_pct"] = round(100 * (total - base) / base, 2)
    added = {mode: figures[mode]["catalogue_wcu_per_1000_in_aws"] for mode in MODES[1:]}
    log(f"\nwrite units per 1,000 entries (AWS: a unit per catalogue request): baseline {base}; the catalogue adds "
        f"{added['every_write']} at every write, {added['interval']} with the interval (one container), "
        f"{added['cold']} (a new container every {args.per_container} entries)")
    print(json.dumps({"bench": "catalog", **figures}), flush=True)


if __name__ == "__main__":
    main()
