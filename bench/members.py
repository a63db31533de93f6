"""What the members directory (GET /members, the User filter's search) costs the writes: capacity units per
1,000 entries written through ``EntryStore.put``, with the directory and without it (the baseline), in one run.

Entries come from the shared generator (30 team members, a few very active; 52% user actions). Every
request of the store's client asks for ``ReturnConsumedCapacity=TOTAL``, so DynamoDB Local reports the
write units of the entries (table and indexes), of the directory's updates (a member's name and new kinds
of entry), and the read units of its BatchGetItems. Three runs over the same entries, each on a fresh table:

- ``baseline``: the directory switched off (``note_actors`` does nothing): what the log cost before;
- ``warm``: one container writes all the entries: each member costs one read, and one write per new kind;
- ``cold``: a new container every ``--per-container`` entries (Lambda recycling its environments): each
  container reads the members it meets once, and writes none it finds held already;
- ``steady``: as ``cold``, with the directory already holding every member (an org's usual day).

Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timezone
from typing import Any

from common import RETENTION_DAYS, WCU_ORG, local_table, log
from internals import Capacity
from seeding import build_entry

from activitylog.config import DEFAULT_ARCHIVE_DAYS
from activitylog.details import DetailStore
from activitylog.storage import OrgStorage
from activitylog.store import EntryStore

OPERATIONS = ("PutItem", "UpdateItem", "BatchGetItem", "TransactWriteItems")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000, help="entries written per run")
    parser.add_argument("--per-container", type=int, default=100, help="entries a container writes before a new one (cold run)")
    parser.add_argument("--seed", type=int, default=20261205)
    return parser.parse_args()


def write_all(entries: list[Any], mode: str, per_container: int) -> tuple[Capacity, float]:
    """Write the entries in ``mode`` on a fresh table: (the capacity they consumed, seconds)."""
    with local_table(shards=1):
        where = OrgStorage(WCU_ORG, 1, 1, RETENTION_DAYS, DEFAULT_ARCHIVE_DAYS)
        store = EntryStore(DetailStore(None))
        if mode == "steady":  # the directory holds the org's members already (they have acted before)
            EntryStore(DetailStore(None)).note_actors(WCU_ORG, entries)
        started = time.perf_counter()
        with Capacity("actor#", "directory", OPERATIONS) as capacity:
            for index, entry in enumerate(entries):
                if mode in ("cold", "steady") and index % per_container == 0:
                    store = EntryStore(DetailStore(None))  # a new execution environment: nothing known
                if mode == "baseline":
                    store.note_actors = lambda org, written: None  # type: ignore[method-assign]
                store.put(where, entry)
        return capacity, time.perf_counter() - started


def main() -> None:
    args = arguments()
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc)
    with local_table(shards=1):  # build_entry reads the service's settings
        entries = [build_entry(rng, now, WCU_ORG) for _ in range(args.entries)]
    members = {e.actor["id"] for e in entries if e.actor["kind"] == "user"}
    user_entries = sum(e.actor["kind"] == "user" for e in entries)
    log(f"{len(entries)} entries, {user_entries} by {len(members)} team members")
    per_thousand = 1000 / len(entries)
    figures: dict[str, Any] = {"entries": len(entries), "members": len(members), "user_entries": user_entries}
    for mode in ("baseline", "warm", "cold", "steady"):
        capacity, seconds = write_all(entries, mode, args.per_container)
        entry_wcu = sum(u for what, u in capacity.units.items() if what.startswith("entries"))
        directory_wcu = capacity.units["directory UpdateItem"]
        directory_rcu = capacity.units["directory BatchGetItem"]
        log(f"\n== {mode}: {seconds:.1f} s")
        for what in sorted(capacity.units):
            log(f"  {what:28} {capacity.requests[what]:6} requests  {capacity.units[what]:9.1f} units")
        figures[mode] = {
            "entry_wcu_per_1000": round(entry_wcu * per_thousand, 1),
            "directory_wcu_per_1000": round(directory_wcu * per_thousand, 1),
            "directory_rcu_per_1000": round(directory_rcu * per_thousand, 1),
            "directory_writes": capacity.requests["directory UpdateItem"],
            "directory_reads": capacity.requests["directory BatchGetItem"],
        }
    base = figures["baseline"]["entry_wcu_per_1000"]
    for mode in ("warm", "cold", "steady"):
        total = figures[mode]["entry_wcu_per_1000"] + figures[mode]["directory_wcu_per_1000"]
        figures[mode]["write_units_increase_pct"] = round(100 * (total - base) / base, 2)
    log(f"\nwrite units per 1,000 entries: baseline {base}, with the directory {figures['warm']['entry_wcu_per_1000']} + "
        f"{figures['warm']['directory_wcu_per_1000']} (one container) and {figures['cold']['entry_wcu_per_1000']} + "
        f"{figures['cold']['directory_wcu_per_1000']} (a new container every {args.per_container} entries), "
        f"{figures['steady']['entry_wcu_per_1000']} + {figures['steady']['directory_wcu_per_1000']} (members known)")
    print(json.dumps({"bench": "members", **figures}), flush=True)


if __name__ == "__main__":
    main()
