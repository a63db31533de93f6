"""The lazy newest-first merge of many key-exact queries ("branches").

Every branch is sorted by the same ULID, so the merge only ever needs the head of each
branch. Reading is lazy: each branch starts with one item (or its known share of the
page), and only branches the merge drained are refilled, sized by their share of what
was returned so far. Items read but not returned are the read amplification a page
pays; this keeps it near one head per branch.

Every query is a range of ids, never a DynamoDB start key: a branch continues just
below the lowest id it has covered, so the merge's position is one id for all branches
at once (the cursor holds it).

Entries move between branches while a page is read: a job's update moves it from the
IN_PROGRESS branch of its partition to a final status's branch. Two rules keep such an
entry from being skipped or shown twice:

- a final-status branch only reads ids its IN_PROGRESS sibling (the *feeder*) has
  finished reading already. A job that left the feeder before the feeder read its id is
  then in the final branch when that branch reads it; one that left after is in the
  feeder's answer. Reading never skips it.
- an id equal to the last one returned is a second copy (read from both sides of a
  move) and is dropped.

Each page reads at most a budget (items and read units, like DynamoDB's own 1 MB page):
past it the page answers what it has, and the position resumes exactly where reading
stopped, so a filter no index answers exactly never reads a whole partition at once.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Optional, Protocol, Sequence, TypeVar, cast

from activitylog import ids
from activitylog.entry import Status
from activitylog.query.planner import Branch


class HasId(Protocol):
    id: str


T = TypeVar("T", bound=HasId)

MAX_QUERY_LIMIT = 500
UNDER_ASK = 0.8  # measured on simulated filtered branches: 2.86 -> 2.74 items read per item at 41% selectivity
# What one page may read before it answers with what it has: DynamoDB's own page is 1 MB,
# which is 128 read units of eventually consistent reads.
MAX_ITEMS_READ = 2000
MAX_READ_UNITS = 128.0


@dataclass
class Fetched(Generic[T]):
    """One Query's answer: the items (newest first), and the id of the last item it evaluated
    if the range may hold more (DynamoDB's LastEvaluatedKey)."""

    items: list[T]
    next_id: Optional[str]
    scanned: int
    capacity: float = 0.0


# fetch(branch, low_id, high_id, limit) -> Fetched: ids in [low_id, high_id], newest first
Fetch = Callable[[Branch, str, str, int], Fetched]


@dataclass
class Page(Generic[T]):
    items: list[T]
    # Where the next page starts: every id at or above it has been decided. None: nothing more.
    position: Optional[str]
    scanned: int
    capacity: float
    queries: int
    rounds: int = 0  # dependent rounds of queries: the page's round trips on the critical path
    budget_spent: bool = False

    @property
    def has_more(self) -> bool:
        return self.position is not None

    @property
    def last_id(self) -> Optional[str]:
        return self.items[-1].id if self.items else None

    @property
    def read_amplification(self) -> float:
        """Items DynamoDB read per item returned (1.0 is perfect)."""
        return self.scanned / max(len(self.items), 1)


@dataclass(eq=False)
class _Reader:
    branch: Branch
    high: str  # the next query's inclusive upper id: everything above is read
    low: str  # the window's lower id
    buffer: deque = field(default_factory=deque)
    exhausted: bool = False
    covered: Optional[str] = None  # the lowest id read so far (None: nothing read yet)
    feeder: Optional["_Reader"] = None
    returned: int = 0
    scanned: int = 0
    kept: int = 0
    capacity: float = 0.0
    queries: int = 0
    last_size: int = 0

    @property
    def floor(self) -> Optional[str]:
        """The lowest id this reader may read now; None while its feeder has read nothing yet."""
        if self.feeder is None or self.feeder.exhausted:
            return self.low
        return self.feeder.covered and max(self.low, self.feeder.covered)

    @property
    def waiting(self) -> bool:
        floor = self.floor
        return floor is None or self.high < floor

    @property
    def needs_read(self) -> bool:
        return not self.buffer and not self.exhausted

    def undecided_top(self) -> Optional[str]:
        """The highest id this branch may still hold that the merge has not decided on."""
        if self.buffer:
            return self.buffer[0].id
        return None if self.exhausted else self.high


def merge_newest_first(
    branches: Sequence[Branch],
    fetch: Fetch,
    limit: int,
    low_id: str = ids.LOWEST_ID,
    high_id: str = ids.HIGHEST_ID,
    keep: Callable[[Any], bool] = lambda item: True,
    max_items_read: Optional[int] = None,
    max_read_units: Optional[float] = None,
) -> Page:
    """Return the newest ``limit`` items with ids in [low_id, high_id] across ``branches``.

    ``keep`` drops items after they are read (entries past their retention that TTL has
    not removed yet); they count as read. ``Page.position`` is set only when at least
    one more item exists, or when the read budget ran out first.
    """
    max_items_read = max_items_read or MAX_ITEMS_READ
    max_read_units = max_read_units or MAX_READ_UNITS
    readers = [_Reader(branch, high_id, low_id) for branch in branches]
    _link_feeders(readers)
    totals = {"rounds": 0}

    def read(reader: _Reader, low: str, size: int) -> None:
        answer = fetch(reader.branch, low, reader.high, size)
        reader.queries += 1
        reader.last_size = size
        reader.scanned += answer.scanned
        reader.kept += len(answer.items)
        reader.capacity += answer.capacity
        reader.buffer.extend(answer.items)
        # The range [covered, high] is read now; continue just below it.
        reader.covered = answer.next_id or low
        if reader.covered <= reader.low:
            reader.exhausted = True
        else:
            reader.high = ids.before(reader.covered)

    def spent() -> bool:
        return sum(r.scanned for r in readers) >= max_items_read or sum(r.capacity for r in readers) >= max_read_units

    def read_round(pool: Optional[ThreadPoolExecutor], out_count: int) -> bool:
        """Read every drained branch that may read now, in parallel; False if none could."""
        due = [r for r in readers if r.needs_read and not r.waiting]
        if not due:
            return False
        sizes = [
            _first_size(r, limit) if r.queries == 0 else _refill_size(r, limit - out_count, out_count) for r in due
        ]
        # Fixed before the round: a feeder reading now is not done yet. A reader not waiting has a floor.
        lows = [cast(str, r.floor) for r in due]
        totals["rounds"] += 1
        if pool is None or len(due) == 1:
            for reader, low, size in zip(due, lows, sizes, strict=True):
                read(reader, low, size)
        else:
            list(pool.map(read, due, lows, sizes))
        return True

    out: list = []
    last: Optional[str] = None
    budget_spent = False
    pool = ThreadPoolExecutor(max_workers=min(len(readers), 16)) if len(readers) > 1 else None
    try:
        # One more than the page: the page says "more" only when an item really follows.
        while True:
            if len(out) == limit and _valid_head(readers, last, keep):
                break  # the page is full and one more item follows
            # A drained branch may hold ids above every buffered head: read it first.
            while any(r.needs_read and not r.waiting for r in readers):
                if spent():
                    budget_spent = True
                    break
                read_round(pool, len(out))
            if budget_spent:
                break
            live = [r for r in readers if r.buffer]
            if not live:
                break
            newest = max(live, key=lambda r: r.buffer[0].id)
            item = newest.buffer[0]
            if item.id == last or not keep(item):  # a second copy of a moved entry, or expired
                newest.buffer.popleft()
                continue
            if len(out) == limit:
                break
            newest.buffer.popleft()
            out.append(item)
            newest.returned += 1
            last = item.id
    finally:
        if pool is not None:
            pool.shutdown(wait=False)

    tops = [top for top in (r.undecided_top() for r in readers) if top is not None]
    position = ids.after(max(tops)) if tops else None
    if last is not None and position is not None:
        position = min(position, last)
    return Page(
        out,
        position,
        scanned=sum(r.scanned for r in readers),
        capacity=sum(r.capacity for r in readers),
        queries=sum(r.queries for r in readers),
        rounds=totals["rounds"],
        budget_spent=budget_spent,
    )


def _valid_head(readers: list[_Reader], last: Optional[str], keep: Callable[[Any], bool]) -> bool:
    """Whether some branch holds a returnable item already (dropping copies and expired heads)."""
    found = False
    for reader in readers:
        while reader.buffer and (reader.buffer[0].id == last or not keep(reader.buffer[0])):
            reader.buffer.popleft()
        found = found or bool(reader.buffer)
    return found


def _link_feeders(readers: list[_Reader]) -> None:
    """Give each final-status branch its partition's IN_PROGRESS branch as feeder."""
    by_partition: dict[tuple, list[_Reader]] = {}
    for reader in readers:
        if reader.branch.status is not None:
            by_partition.setdefault((reader.branch.index, reader.branch.hash_key), []).append(reader)
    for siblings in by_partition.values():
        feeder = next((r for r in siblings if r.branch.status is Status.IN_PROGRESS), None)
        for reader in siblings:
            if feeder is not None and reader is not feeder:
                reader.feeder = feeder


def _first_size(reader: _Reader, limit: int) -> int:
    share = reader.branch.expected_share
    return min(math.ceil(limit * share) + 1, MAX_QUERY_LIMIT) if share else 1


def _refill_size(reader: _Reader, need: int, returned_total: int) -> int:
    """How many items to ask a drained branch for.

    Its share of the items returned so far predicts its share of the rest; growth is
    capped at doubling so one early guess cannot over-read much. A branch behind a
    residual filter scales the matches it still owes by its items-per-match so far, and
    asks for a little less (``UNDER_ASK``): one more small query is cheaper than the
    items an overshoot leaves unread at the end of the page. A branch that answered
    nothing at all asks for double next time.
    """
    if need <= 0:
        return 1
    if reader.kept == 0:
        return min(2 * reader.last_size, MAX_QUERY_LIMIT)
    share = reader.returned / returned_total if returned_total else 1.0
    if reader.kept < reader.scanned:
        matches = min(math.ceil(need * share), 2 * reader.last_size + 1, need)
        wanted = math.ceil(matches * reader.scanned / max(reader.kept, 1) * UNDER_ASK)
    else:
        wanted = min(math.ceil(need * share) + 1, 2 * reader.last_size + 1, need + 1)
    return max(1, min(MAX_QUERY_LIMIT, wanted))
