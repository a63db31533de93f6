"""The lazy newest-first merge of many key-exact queries ("branches").

Every branch is sorted by the same ULID, so the merge only ever needs the head of each
branch. Reading is lazy: each branch starts with one item, and only the branch the
merge just drained is refilled, sized by its share of what was returned so far. Items
read but not returned are the read amplification a page pays; this keeps it near one
head per branch.

The last id returned is a complete position for every branch at once: the next page
asks each branch for ids strictly below it.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Optional, Protocol, Sequence, TypeVar

from activitylog.keys import Branch


class HasId(Protocol):
    id: str


T = TypeVar("T", bound=HasId)

MAX_QUERY_LIMIT = 500
UNDER_ASK = 0.8  # measured on simulated filtered branches: 2.86 -> 2.74 items read per item at 41% selectivity


@dataclass
class Fetched(Generic[T]):
    """One Query's answer: the items (newest first) and where to continue, if anywhere."""

    items: list[T]
    next_key: Optional[dict]
    scanned: int
    capacity: float = 0.0


# fetch(branch, exclusive_start_key, limit) -> Fetched
Fetch = Callable[[Branch, Optional[dict], int], Fetched]


@dataclass
class Page(Generic[T]):
    items: list[T]
    has_more: bool
    scanned: int
    capacity: float
    queries: int

    @property
    def last_id(self) -> Optional[str]:
        return self.items[-1].id if self.items else None

    @property
    def read_amplification(self) -> float:
        """Items DynamoDB read per item returned (1.0 is perfect)."""
        return self.scanned / max(len(self.items), 1)


@dataclass
class _Reader(Generic[T]):
    branch: Branch
    buffer: deque = field(default_factory=deque)
    next_key: Optional[dict] = None
    started: bool = False
    returned: int = 0
    scanned: int = 0
    kept: int = 0
    capacity: float = 0.0
    queries: int = 0
    last_size: int = 0

    @property
    def exhausted(self) -> bool:
        return self.started and self.next_key is None

    @property
    def needs_refill(self) -> bool:
        return not self.buffer and not self.exhausted


def merge_newest_first(
    branches: Sequence[Branch],
    fetch: Fetch,
    limit: int,
    keep: Callable[[Any], bool] = lambda item: True,
) -> Page:
    """Return the newest ``limit`` items across ``branches``, reading as little as it can.

    ``keep`` drops items after they are read (entries past their expiry that TTL has
    not removed yet); they count as read.

    >>> page = merge_newest_first(plan.branches, store.fetch, limit=50)
    """
    readers = [_Reader(branch) for branch in branches]

    def fill(reader: _Reader, size: int) -> None:
        while not reader.buffer and not reader.exhausted:
            answer = fetch(reader.branch, reader.next_key, size)
            reader.started = True
            reader.next_key = answer.next_key
            reader.scanned += answer.scanned
            reader.kept += len(answer.items)
            reader.capacity += answer.capacity
            reader.queries += 1
            reader.last_size = size
            reader.buffer.extend(answer.items)
            # A filtered branch can answer a whole Limit with no item: ask for more next time.
            size = min(2 * size, MAX_QUERY_LIMIT)

    def first_size(reader: _Reader) -> int:
        share = reader.branch.expected_share
        return min(math.ceil(limit * share) + 1, MAX_QUERY_LIMIT) if share else 1

    # Every branch's head first (or its known share of the page), in parallel: the
    # merge cannot emit anything before it.
    if len(readers) > 1:
        with ThreadPoolExecutor(max_workers=min(len(readers), 16)) as pool:
            list(pool.map(lambda r: fill(r, first_size(r)), readers))
    elif readers:
        fill(readers[0], min(limit + 1, MAX_QUERY_LIMIT))

    out: list = []
    while len(out) < limit:
        for reader in readers:
            if reader.needs_refill:
                fill(reader, _refill_size(reader, limit - len(out), len(out)))
        live = [r for r in readers if r.buffer]
        if not live:
            break
        newest = max(live, key=lambda r: r.buffer[0].id)
        item = newest.buffer.popleft()
        if keep(item):
            out.append(item)
            newest.returned += 1

    has_more = any(r.buffer or not r.exhausted for r in readers)
    # Tallied per reader: the first reads run on several threads at once.
    return Page(
        out,
        has_more,
        scanned=sum(r.scanned for r in readers),
        capacity=sum(r.capacity for r in readers),
        queries=sum(r.queries for r in readers),
    )


def _refill_size(reader: _Reader, need: int, returned_total: int) -> int:
    """How many items to ask a drained branch for.

    Its share of the items returned so far predicts its share of the rest; growth is
    capped at doubling so one early guess cannot over-read much. A branch behind a
    residual filter scales the matches it still owes by its items-per-match so far, and
    asks for a little less (``UNDER_ASK``): one more small query is cheaper than the
    items an overshoot leaves unread at the end of the page.
    """
    if need <= 0:
        return 1
    share = reader.returned / returned_total if returned_total else 1.0
    if reader.kept < reader.scanned:
        matches = min(math.ceil(need * share), 2 * reader.last_size + 1, need)
        wanted = math.ceil(matches * reader.scanned / max(reader.kept, 1) * UNDER_ASK)
    else:
        wanted = min(math.ceil(need * share) + 1, 2 * reader.last_size + 1, need + 1)
    return max(1, min(MAX_QUERY_LIMIT, wanted))
