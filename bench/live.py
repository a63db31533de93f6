"""What one open tab of the live page costs per hour: read units and requests.

The page's poll (web/js/live.js) is replayed over a simulated hour against the service on
DynamoDB Local, its constants read from live.js itself (interval, idle and error ceilings,
grace), so the two cannot drift apart:

- every poll lists the view's filters from the newest id shown less the grace (GET /activities,
  limit 200, following the cursor), then reads each IN_PROGRESS row on screen (GET /activities/{id});
- the pace is the base interval while something arrived or a job on screen runs, and grows 1.5x per
  quiet poll up to the idle ceiling; a hidden tab polls nothing.

Entries are recorded through ``ActivityService.record`` at their times in the hour (the
generator's distribution), before the poll that can see them. Read units are DynamoDB Local's
``ConsumedCapacity`` of every Query, GetItem and BatchGetItem the service sends.
The baseline, in the same run: the naive live page, reloading the view's first page (50 entries,
the whole 24-hour window) every base interval.

    .venv/bin/python bench/live.py                      # 4-5 minutes on 2 shared cores (recording the entries)
    .venv/bin/python bench/live.py --busy-per-hour 3000
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from common import ORG, ROOT, local_table, log

LIVE_JS = ROOT / "web" / "js" / "live.js"
SCREEN_ROWS = 15  # rows a 1280 x 800 window shows: the reader at the top sees these
PAGE = 50


def live_settings() -> dict[str, float]:
    """live.js's constants, from its source."""
    source = LIVE_JS.read_text()

    def number(name: str) -> float:
        found = re.search(rf"\b{name}\s*[:=]\s*([\d_]+)", source)
        assert found, f"{name} not found in {LIVE_JS}"
        return float(found.group(1).replace("_", ""))

    return {name: number(name) / 1000 for name in ("intervalMs", "idleMaxMs", "GRACE_MS")} | {
        "page": number("PAGE"), "most_reads": number("MOST_READS")}


@dataclass
class Tally:
    requests: int = 0
    list_requests: int = 0
    entry_requests: int = 0
    read_units: float = 0.0
    queries: int = 0  # DynamoDB Queries the lists sent (each branch of the plan, each refill)
    polls: int = 0
    shown: int = 0  # entries the live page added
    intervals: list[float] = field(default_factory=list)

    def figures(self) -> dict:
        return {"requests_per_hour": self.requests, "read_units_per_hour": round(self.read_units, 1),
                # DynamoDB Local reports no units for a Query that read nothing; were each billed half a unit:
                "read_units_bound": round(self.read_units + 0.5 * self.queries, 1),
                "list_requests": self.list_requests, "entry_requests": self.entry_requests, "dynamodb_queries": self.queries,
                "entries_shown": self.shown,
                "mean_interval_s": round(sum(self.intervals) / len(self.intervals), 1) if self.intervals else None}


class Capacity:
    """The read units of every read the service sends (ReturnConsumedCapacity=TOTAL added where missing)."""

    OPERATIONS = ("Query", "GetItem", "BatchGetItem")

    def __init__(self) -> None:
        from internals import store_client

        self.client = store_client()
        self.units = 0.0
        for operation in self.OPERATIONS:
            self.client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self.client.meta.events.register(f"after-call.dynamodb.{operation}", self._add)

    def _ask(self, params: dict, **_: Any) -> None:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _add(self, parsed: dict, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") or {}
        for part in consumed if isinstance(consumed, list) else [consumed]:
            self.units += float(part.get("CapacityUnits", 0.0))

    def close(self) -> None:
        for operation in self.OPERATIONS:
            self.client.meta.events.unregister(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self.client.meta.events.unregister(f"after-call.dynamodb.{operation}", self._add)


class Hour:
    """One simulated hour of an org: entries recorded at their times, before the reads that can see them."""

    def __init__(self, service: Any, start: datetime, per_hour: int, seed: int, running: int = 0) -> None:
        from activitylog.service import Caller

        self.service = service
        self.writer = Caller(ORG, "svc_bench_live", frozenset({"activity:write"}))
        rng = random.Random(seed)
        times = sorted(start + timedelta(seconds=rng.uniform(0, 3600)) for _ in range(per_hour))
        self.due = [(moment, self._document(rng, moment)) for moment in times]
        # Long jobs running the whole hour, recorded just before it: on screen unless new rows push them off.
        self.running = [self._document(rng, start - timedelta(seconds=1 + n), job=True) for n in range(running)]

    @staticmethod
    def _document(rng: random.Random, moment: datetime, job: bool = False) -> dict:
        from activitylog_local import generator

        while True:
            document, _ = generator.document(rng, moment)
            if not job or (document["type"] == "BACKGROUND_JOB" and document["status"] == "IN_PROGRESS"):
                return document

    def record_before(self, start: datetime) -> None:
        for document in self.running:
            self._record(document)

    def record_until(self, moment: datetime) -> None:
        while self.due and self.due[0][0] <= moment:
            self._record(self.due.pop(0)[1])

    def _record(self, document: dict) -> None:
        from activitylog.inputs import NewEntry

        self.service.record(self.writer, NewEntry.model_validate(document))


def listing(service: Any, reader: Any, filters: dict, since: datetime, now: datetime, limit: int,
            tally: Tally) -> list[dict]:
    """Every page of the view's entries from ``since``, as the page's poll reads them."""
    from activitylog.query.filters import parse_list_request

    items, cursor = [], None
    while True:
        params = {**filters, "from": iso_ms(since), "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        result = service.list(reader, parse_list_request(params), now=now)
        tally.requests += 1
        tally.list_requests += 1
        tally.queries += result.page.queries
        answer = result.to_dict()
        items += answer["items"]
        cursor = answer.get("next_cursor")
        if not cursor:
            return items


def live_tab(service: Any, reader: Any, filters: dict, hour: Hour, start: datetime, settings: dict,
             capacity: Capacity) -> Tally:
    """The page's poll over the hour after its first page loaded at ``start``."""
    from activitylog import ids

    tally = Tally()
    window_from = start - timedelta(hours=24)
    shown = {item["id"]: item for item in listing_first(service, reader, filters, start, Tally())}  # the first page
    units_before = capacity.units
    base, idle_max, grace = settings["intervalMs"], settings["idleMaxMs"], settings["GRACE_MS"]
    delay, now, end = base, start, start + timedelta(hours=1)
    while True:
        now += timedelta(seconds=delay)
        if now > end:
            break
        tally.intervals.append(delay)
        hour.record_until(now)
        tally.polls += 1
        newest = max(shown) if shown else None
        since = max(window_from, ids.occurred_at(newest) - timedelta(seconds=grace)) if newest else window_from
        fresh = [item for item in listing(service, reader, filters, since, now, int(settings["page"]), tally)
                 if item["id"] not in shown]
        shown.update((item["id"], item) for item in fresh)
        tally.shown += len(fresh)
        on_screen = sorted(shown, reverse=True)[:SCREEN_ROWS]
        running = [i for i in on_screen if shown[i]["status"] == "IN_PROGRESS"][:int(settings["most_reads"])]
        for entry_id in running:
            shown[entry_id] = {**shown[entry_id], "status": service.get(reader, entry_id).status.value}
            tally.requests += 1
            tally.entry_requests += 1
        delay = base if fresh or running else min(delay * 1.5, idle_max)
    tally.read_units = capacity.units - units_before
    return tally


def reloading_tab(service: Any, reader: Any, filters: dict, hour: Hour, start: datetime, settings: dict,
                  capacity: Capacity) -> Tally:
    """The baseline: the view's first page read again every base interval."""
    tally = Tally()
    units_before = capacity.units
    now, end = start, start + timedelta(hours=1)
    seen: set[str] = set()
    while True:
        now += timedelta(seconds=settings["intervalMs"])
        if now > end:
            break
        hour.record_until(now)
        tally.polls += 1
        tally.intervals.append(settings["intervalMs"])
        page = listing_first(service, reader, filters, now, tally)
        tally.shown += len({item["id"] for item in page} - seen)
        seen.update(item["id"] for item in page)
    tally.read_units = capacity.units - units_before
    return tally


def listing_first(service: Any, reader: Any, filters: dict, now: datetime, tally: Tally) -> list[dict]:
    from activitylog.query.filters import parse_list_request

    params = {**filters, "from": iso_ms(now - timedelta(hours=24)), "limit": str(PAGE)}
    tally.requests += 1
    tally.list_requests += 1
    result = service.list(reader, parse_list_request(params), now=now)
    tally.queries += result.page.queries
    return result.to_dict()["items"]


def iso_ms(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Scenario:
    name: str
    per_hour: int
    filters: dict
    running: int = 0


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--busy-per-hour", type=int, default=1000, help="entries an active org records in an hour")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    settings = live_settings()
    log(f"live.js: every {settings['intervalMs']:g} s, quiet polls x1.5 up to {settings['idleMaxMs']:g} s, "
        f"grace {settings['GRACE_MS']:g} s")
    scenarios = [
        Scenario("quiet", 0, {}),
        Scenario("quiet, a job running on screen", 0, {}, running=1),
        Scenario("busy", args.busy_per_hour, {}),
        Scenario("busy, FAILED + WARNING", args.busy_per_hour, {"status": "FAILED,WARNING"}),
    ]
    results: dict[str, dict] = {}
    with local_table() as bench:
        from activitylog.service import Caller

        reader = Caller(ORG, "u_01", frozenset({"activity:read"}))
        capacity = Capacity()
        try:
            # Each scenario runs in its own hour, one after the other, ending before now (the API
            # takes no entry from the future), a day of history before them for the first page.
            now = datetime.now(timezone.utc).replace(microsecond=0)
            first = now - timedelta(hours=2 * len(scenarios) + 1)
            history = Hour(bench.service, first - timedelta(hours=6), 1500, args.seed + 99)
            history.record_until(first)
            log(f"history: 1,500 entries over the 6 h before the first hour; {bench.shards} shards")
            for n, scenario in enumerate(scenarios):
                start = first + timedelta(hours=2 * n)
                for name, run in (("live", live_tab), ("reload", reloading_tab)):
                    # The same entries at the same times for both tabs, each in its own hour.
                    moment = start + timedelta(hours=1) if name == "reload" else start
                    hour = Hour(bench.service, moment, scenario.per_hour, args.seed + n, scenario.running)
                    hour.record_before(moment)
                    tally = run(bench.service, reader, scenario.filters, hour, moment, settings, capacity)
                    hour.record_until(moment + timedelta(hours=1))
                    results[f"{scenario.name} · {name}"] = tally.figures()
                    log(f"{scenario.name:32} {name:7} {tally.requests:6,} requests/h  "
                        f"{tally.read_units:9,.1f} read units/h (at most {tally.figures()['read_units_bound']:,}; "
                        f"{tally.list_requests} lists, "
                        f"{tally.entry_requests} entry reads, {tally.queries} queries, {tally.shown} entries shown, "
                        f"mean interval {tally.figures()['mean_interval_s']} s)")
        finally:
            capacity.close()
    summary = {"bench": "live", "busy_per_hour": args.busy_per_hour, "interval_s": settings["intervalMs"],
               "idle_max_s": settings["idleMaxMs"], "grace_s": settings["GRACE_MS"], "hidden_tab": 0,
               "per_tab_hour": results}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
