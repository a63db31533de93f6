"""What the catalogue (GET /catalog's counts) costs: capacity units per 1,000 entries, in one run, for the entries'
writes alone (the baseline: the catalogue is off the write path) and for the archive function's counting of
them from the table's stream, at several batch sizes (one update per name per batch).

Entries come from the shared generator (its actions and webhook events), written through ``EntryStore.put`` on
a fresh table; their archive lines are then counted batch by batch by ``Catalog.count_catalog``, as the archive
function does. Every request of the store's client asks for ``ReturnConsumedCapacity=TOTAL``; a request naming a
``catalog#`` item is the catalogue's. AWS bills a write its condition refused too (the last seen was later
already: the second update of that name adds the uses alone): a unit per request is reported beside Local's.
The counts are checked to equal the entries' uses. Ends with one JSON line of the figures.
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

from activitylog.archive.lines import INSERT, version_line
from activitylog.config import DEFAULT_ARCHIVE_DAYS
from activitylog.details import DetailStore
from activitylog.storage import OrgStorage
from activitylog.store import EntryStore
from activitylog.store.catalog import uses_of

OPERATIONS = ("PutItem", "BatchGetItem", "TransactWriteItems", "UpdateItem")
BATCHES = (10, 100, 1000)  # records per stream batch: a quiet org's, a busy one's, the archive's largest


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000, help="entries written")
    parser.add_argument("--seed", type=int, default=20261205)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc)
    per_thousand = 1000 / args.entries
    with local_table(shards=1):
        entries = [build_entry(rng, now, WCU_ORG) for _ in range(args.entries)]
        actions = {(e.type.value, e.action) for e in entries}
        events = {e.event for e in entries if e.type.value == "WEBHOOK"}
        log(f"{len(entries)} entries: {len(actions)} (type, action) names, {len(events)} webhook events")
        where = OrgStorage(WCU_ORG, 1, 1, RETENTION_DAYS, DEFAULT_ARCHIVE_DAYS)
        store = EntryStore(DetailStore(None))
        with Capacity("catalog#", "catalogue", OPERATIONS) as written:
            for entry in entries:
                store.put(where, entry)
        base = sum(u for what, u in written.units.items() if what.startswith("entries"))
        assert not any(what.startswith("catalogue") for what in written.units), "a write named the catalogue"
        figures: dict[str, Any] = {"entries": len(entries), "names": len(actions) + len(events),
                                   "baseline_entry_wcu_per_1000": round(base * per_thousand, 1),
                                   "write_path_catalogue_wcu_per_1000": 0.0}
        lines = [json.loads(version_line(WCU_ORG, e, f"{n:021d}", INSERT, None).text) for n, e in enumerate(entries)]
        expected = len(entries) + len([e for e in entries if e.type.value == "WEBHOOK"])
        for size in BATCHES:
            org = f"{WCU_ORG}-b{size}"  # each batch size counts into an org of its own
            for line in lines:
                line["org"] = org
            started = time.perf_counter()
            with Capacity("catalog#", "catalogue", OPERATIONS) as counting:
                for first in range(0, len(lines), size):
                    batch = lines[first:first + size]
                    store.count_catalog(uses_of(batch), f"{size}-{first}")
            seconds = time.perf_counter() - started
            counted = store.catalog_counts(org)
            total = sum(a["count"] for a in counted["actions"]) + sum(e["count"] for e in counted["events"])
            assert total == expected, (total, expected)
            units, requests = counting.units["catalogue UpdateItem"], counting.requests["catalogue UpdateItem"]
            log(f"batches of {size:5}: {requests:5} updates, {units:7.1f} units (Local), {seconds:.2f} s; "
                f"uses counted {total} of {expected}")
            figures[f"batch_{size}"] = {
                "catalogue_wcu_per_1000": round(units * per_thousand, 1),
                "catalogue_wcu_per_1000_in_aws": round(requests * per_thousand, 1),
                "increase_pct_in_aws": round(100 * requests / base, 2),
                "uses_counted": total,
            }
    log(f"\nwrite units per 1,000 entries: entries {figures['baseline_entry_wcu_per_1000']} (the write path, "
        f"unchanged); the archive function's counting adds " + ", ".join(
            f"{figures[f'batch_{size}']['catalogue_wcu_per_1000_in_aws']} in batches of {size}" for size in BATCHES))
    print(json.dumps({"bench": "catalog", **figures}), flush=True)


if __name__ == "__main__":
    main()
