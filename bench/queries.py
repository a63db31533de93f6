"""The filter combinations, answered by the service and by the naive baseline, page by page.

Ours goes through ``parse_list_request`` → ``ActivityService.list`` following
``next_cursor``. The naive baseline reads the org's base-table partitions newest first
with every filter a FilterExpression, through the service's own lazy merge, so only the
key design differs; both must return the same ids page by page.
"""

from __future__ import annotations

import functools
import operator
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Optional

from common import DAYS, ORG, PAGE, iso


@dataclass
class Combination:
    name: str
    params: dict
    pages: int = 5
    axes: int = 1  # filter axes combined (the record counts as one axis; a date range as none)


@dataclass
class PageStat:
    returned: int
    scanned: int
    capacity: float
    queries: int
    rounds: int
    ms: float
    ids: list = field(default_factory=list)


@dataclass
class Run:
    pages: list[PageStat]
    latencies: list[float]  # every page of every repetition

    @property
    def returned(self) -> int:
        return sum(p.returned for p in self.pages)

    @property
    def scanned(self) -> int:
        return sum(p.scanned for p in self.pages)

    @property
    def read_amplification(self) -> float:
        return self.scanned / max(self.returned, 1)

    @property
    def rcu_per_page(self) -> float:
        return statistics.fmean(p.capacity for p in self.pages) if self.pages else 0.0

    @property
    def queries_per_page(self) -> float:
        return statistics.fmean(p.queries for p in self.pages) if self.pages else 0.0

    @property
    def rounds_mean(self) -> float:
        return statistics.fmean(p.rounds for p in self.pages) if self.pages else 0.0

    @property
    def rounds_max(self) -> int:
        return max((p.rounds for p in self.pages), default=0)


def combinations(now: datetime, record: tuple[str, str], heavy_user: str, week_user: str,
                 deep_pages: int, pages: int, untouched: Optional[tuple[str, str]] = None) -> list[Combination]:
    """Every filter axis alone, every pair of axes, date ranges and two deep pagings; and pairs no entry can
    match (``untouched``: a member and an entity type they never touched) over two years."""
    week, month = iso(now - timedelta(days=7)), iso(now - timedelta(days=DAYS))
    two_years = iso(now - timedelta(days=729))
    window_end = (now - timedelta(days=10)).replace(minute=0, second=0)
    rec = {"entity_type": record[0], "entity_id": record[1], "from": month}
    rec_name = f"record {record[0]}/{record[1]}"
    one = [
        Combination("no filter · last 24 h", {}, pages, 0),
        Combination("type=USER_ACTION", {"type": "USER_ACTION"}, pages),
        Combination("type=WEBHOOK,SYSTEM_EVENT", {"type": "WEBHOOK,SYSTEM_EVENT"}, pages),
        Combination("status=FAILED", {"status": "FAILED"}, pages),
        Combination("status=WARNING,FAILED", {"status": "WARNING,FAILED"}, pages),
        Combination("status=IN_PROGRESS · 7 d", {"status": "IN_PROGRESS", "from": week}, pages),
        Combination(f"user={heavy_user}", {"user": heavy_user}, pages),
        Combination(f"user={week_user} · 7 d", {"user": week_user, "from": week}, pages),
        Combination("entity_type=payment", {"entity_type": "payment"}, pages),
        Combination(f"{rec_name} · 30 d", rec, pages),
        Combination("date range: 6 h, 10 days ago", {"from": iso(window_end - timedelta(hours=6)), "to": iso(window_end)}, pages, 0),
    ]
    two = [  # type×status, type×user, type×entity, status×user, status×entity, user×entity, record×{user,type,status}
        Combination("type=BACKGROUND_JOB & status=FAILED,WARNING · 7 d", {"type": "BACKGROUND_JOB", "status": "FAILED,WARNING", "from": week}),
        Combination(f"user={week_user} & type=USER_ACTION · 7 d", {"user": week_user, "type": "USER_ACTION", "from": week}),
        Combination(f"user={heavy_user} & type=WEBHOOK (no entry can match) · 24 h", {"user": heavy_user, "type": "WEBHOOK"}),
        Combination("entity_type=payment & type=WEBHOOK", {"entity_type": "payment", "type": "WEBHOOK"}),
        Combination(f"user={heavy_user} & status=WARNING,FAILED · 7 d", {"user": heavy_user, "status": "WARNING,FAILED", "from": week}),
        Combination("entity_type=contact & status=FAILED · 7 d", {"entity_type": "contact", "status": "FAILED", "from": week}),
        Combination(f"user={heavy_user} & entity_type=contact · 7 d", {"user": heavy_user, "entity_type": "contact", "from": week}),
        Combination(f"user={heavy_user} & entity_type=setting · 7 d", {"user": heavy_user, "entity_type": "setting", "from": week}),
        Combination(f"{rec_name} & user={heavy_user} · 30 d", rec | {"user": heavy_user}),
        Combination(f"{rec_name} & type=USER_ACTION · 30 d", rec | {"type": "USER_ACTION"}),
        Combination(f"{rec_name} & status=WARNING,FAILED · 30 d", rec | {"status": "WARNING,FAILED"}),
        Combination(f"user={heavy_user} & type=WEBHOOK (no entry can match) · 2 years", {"user": heavy_user, "type": "WEBHOOK", "from": two_years}),
    ]
    if untouched:
        two.append(Combination(f"user={untouched[0]} & entity_type={untouched[1]} (never touched) · 2 years",
                               {"user": untouched[0], "entity_type": untouched[1], "from": two_years}))
    for combination in two:
        combination.pages, combination.axes = pages, 2
    deep = [
        Combination(f"deep: 30 d, no filter, {deep_pages} pages", {"from": month}, deep_pages, 0),
        Combination(f"deep: type=WEBHOOK & status=WARNING,FAILED · 30 d, {deep_pages // 2} pages",
                    {"type": "WEBHOOK", "status": "WARNING,FAILED", "from": month}, deep_pages // 2, 2),
    ]
    return one + two + deep


def run_ours(service: Any, caller: Any, combination: Combination, now: datetime, repeats: int) -> Run:
    """Page through a combination with the service's own list; every repetition must read the same."""
    from activitylog.query.filters import parse_list_request

    first: list[PageStat] = []
    latencies: list[float] = []
    for repeat in range(repeats):
        cursor = None
        for number in range(combination.pages):
            params = dict(combination.params, limit=str(PAGE)) | ({"cursor": cursor} if cursor else {})
            started = time.perf_counter()
            result = service.list(caller, parse_list_request(params), now=now)
            ms = (time.perf_counter() - started) * 1000
            latencies.append(ms)
            page = result.page
            stat = PageStat(len(page.items), page.scanned, page.capacity, page.queries, page.rounds, ms,
                            [item["id"] for item in result.items])
            if repeat == 0:
                first.append(stat)
            elif stat.scanned != first[number].scanned or stat.ids != first[number].ids:
                raise AssertionError(f"{combination.name}: page {number + 1} differs between repetitions")
            cursor = result.next_cursor
            if not cursor:
                break
    return Run(first, latencies)


def naive_condition(f: Any) -> Optional[Any]:
    """Every filter axis as one FilterExpression on the base table's items."""
    from activitylog.store import EntryItem

    parts = []
    if f.types:
        parts.append(EntryItem.type.is_in(*sorted(t.value for t in f.types)))
    if f.statuses:
        parts.append(EntryItem.status.is_in(*sorted(s.value for s in f.statuses)))
    if f.user:
        parts.append((EntryItem.actor_kind == "user") & (EntryItem.actor_id == f.user))
    if f.entity_type:
        parts.append(EntryItem.entity_type == f.entity_type)
    if f.entity_id:
        parts.append(EntryItem.entity_id == f.entity_id)
    return functools.reduce(operator.and_, parts) if parts else None


def run_naive(shards: int, combination: Combination, now: datetime, budget_s: float) -> Run:
    """The naive design through the service's own lazy merge over one branch per shard.

    One change in the fetch: a filtered Query that comes back empty is followed by one
    asking for twice as many items (up to the merge's limit), or the merge's one-item
    head reads would page a sparse filter one item at a time.
    """
    from activitylog import ids, keys
    from activitylog.query.filters import parse_list_request
    from activitylog.query.merge import MAX_QUERY_LIMIT, Fetched, merge_newest_first
    from activitylog.query.planner import Branch
    from activitylog.store import EntryItem
    from internals import connection

    f = parse_list_request(combination.params).filter
    low, high = f.window(now)
    low_id, high_id = ids.lower_bound(low), ids.upper_bound(high)
    condition = naive_condition(f)
    table = connection()
    branches = [Branch(None, keys.table_pk(ORG, shard)) for shard in range(shards)]
    now_seconds = time.time()
    pages: list[PageStat] = []
    spent = 0.0
    for _ in range(combination.pages):
        empty_streak: dict = {}

        def fetch(branch: Any, low: str, high: str, limit: int) -> Any:
            size = min(MAX_QUERY_LIMIT, limit * 2 ** empty_streak.get(branch, 0))
            answer = table.query(branch.hash_key, range_key_condition=EntryItem.sk.between(low, high),
                                 filter_condition=condition, limit=size, scan_index_forward=False,
                                 return_consumed_capacity="TOTAL")
            items = [EntryItem.from_raw_data(raw) for raw in answer.get("Items", [])]
            empty_streak[branch] = 0 if items else empty_streak.get(branch, 0) + 1
            last = answer.get("LastEvaluatedKey")
            return Fetched(items, last["sk"]["S"] if last else None, answer.get("ScannedCount", len(items)),
                           float(answer.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)))

        started = time.perf_counter()
        # No read budget for the baseline: each of its pages is the whole page, to compare ids.
        page = merge_newest_first(branches, fetch, PAGE, low_id, high_id, keep=lambda item: item.expires_at >= now_seconds,
                                  max_items_read=10**9, max_read_units=1e12)
        ms = (time.perf_counter() - started) * 1000
        spent += ms / 1000
        pages.append(PageStat(len(page.items), page.scanned, page.capacity, page.queries, page.rounds, ms,
                              [item.sk for item in page.items]))
        if page.position is None or spent > budget_s:
            break
        high_id = ids.before(page.position)
    return Run(pages, [p.ms for p in pages])
