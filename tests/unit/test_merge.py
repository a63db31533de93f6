"""The lazy merge against in-memory branches: order, completeness, and how little it reads."""

import random
import threading
from dataclasses import dataclass

import pytest

from activitylog import ids
from activitylog.entry import Status
from activitylog.query.merge import Fetched, merge_newest_first
from activitylog.query.planner import Branch


@dataclass
class Item:
    id: str


class FakeBranches:
    """Branches as sorted lists of ids; a query is a range of ids, as in DynamoDB. Counts what was read."""

    def __init__(self, contents: dict[str, list[str]]):
        self.contents = {name: sorted(ids, reverse=True) for name, ids in contents.items()}
        self.read = 0
        self.calls = 0

    @property
    def branches(self):
        return [Branch(None, name) for name in self.contents]

    def fetch(self, branch, low, high, limit):
        in_range = [i for i in self.contents[branch.hash_key] if low <= i <= high]
        rows = in_range[:limit]
        self.read += len(rows)
        self.calls += 1
        more = len(in_range) > limit
        return Fetched([Item(i) for i in rows], rows[-1] if more else None, len(rows))


def make_ids(count, rng):
    return [f"{rng.getrandbits(40):026d}" for _ in range(count)]


def nid(n: int) -> str:
    """A 26-character id that sorts by ``n`` (digits are valid ULID characters)."""
    return f"{n:026d}"


def test_merges_newest_first_across_branches_without_loss_or_duplicates():
    rng = random.Random(1)
    contents = {f"b{i}": make_ids(rng.randint(0, 60), rng) for i in range(6)}
    fake = FakeBranches(contents)
    page = merge_newest_first(fake.branches, fake.fetch, limit=1000)
    everything = sorted((i for ids in contents.values() for i in ids), reverse=True)
    assert [item.id for item in page.items] == everything
    assert page.has_more is False


def test_a_page_is_the_newest_items_and_says_more_remain():
    rng = random.Random(2)
    contents = {f"b{i}": make_ids(100, rng) for i in range(4)}
    fake = FakeBranches(contents)
    page = merge_newest_first(fake.branches, fake.fetch, limit=50)
    everything = sorted((i for ids in contents.values() for i in ids), reverse=True)
    assert [item.id for item in page.items] == everything[:50]
    assert page.has_more is True
    assert page.last_id == everything[49]


@pytest.mark.parametrize("shares", [(1.0,), (0.95, 0.03, 0.02), (0.5, 0.5), (0.25,) * 4, (0.9,) + (0.01,) * 10])
def test_read_amplification_stays_near_one_head_per_branch(shares):
    # Given branches whose items interleave in the given proportions
    rng = random.Random(3)
    contents = {f"b{i}": [] for i in range(len(shares))}
    for n in range(5000):
        branch = rng.choices(list(contents), weights=shares)[0]
        contents[branch].append(nid(n))
    fake = FakeBranches(contents)
    # When one page of 50 is merged
    page = merge_newest_first(fake.branches, fake.fetch, limit=50)
    # Then it reads at most the page plus about one head per branch, and a few more for noise
    assert len(page.items) == 50
    assert fake.read == page.scanned
    assert page.scanned <= 50 + 2 * len(shares) + 8, page.scanned


def test_dropped_items_count_as_read_but_are_not_returned():
    fake = FakeBranches({"a": [nid(n) for n in range(10)]})
    page = merge_newest_first(fake.branches, fake.fetch, limit=5, keep=lambda item: int(item.id) % 2 == 0)
    assert [item.id for item in page.items] == [nid(8), nid(6), nid(4), nid(2), nid(0)]
    assert page.scanned == 10


def test_empty_branches_give_an_empty_last_page():
    fake = FakeBranches({"a": [], "b": []})
    page = merge_newest_first(fake.branches, fake.fetch, limit=50)
    assert page.items == [] and page.has_more is False


def test_shards_with_a_known_even_share_fill_a_page_in_about_one_round():
    # Given two write shards, which split ids evenly
    rng = random.Random(4)
    contents = {"s0": [], "s1": []}
    for n in range(4000):
        contents[rng.choice(["s0", "s1"])].append(nid(n))
    fake = FakeBranches(contents)
    branches = [Branch(None, name, expected_share=0.5) for name in contents]
    # When a page of 50 is merged
    page = merge_newest_first(branches, fake.fetch, limit=50)
    # Then it is the right page, read in a few queries rather than a doubling ladder
    assert [i.id for i in page.items] == sorted(contents["s0"] + contents["s1"], reverse=True)[:50]
    assert page.queries <= 4
    assert page.scanned <= 60


def test_a_filter_that_matches_nothing_reads_at_most_the_budget_per_page_and_resumes_exactly():
    # Given a branch whose residual filter drops everything (the fetch returns no items)
    class Filtered(FakeBranches):
        def fetch(self, branch, low, high, limit):
            answer = super().fetch(branch, low, high, limit)
            return Fetched([], answer.next_id, answer.scanned)

    fake = Filtered({"a": [nid(n) for n in range(3000)]})
    # When it is paged through, each page starting at the last page's position
    pages, high = [], ids.HIGHEST_ID
    while True:
        page = merge_newest_first(fake.branches, fake.fetch, limit=50, high_id=high, max_items_read=1000)
        pages.append(page)
        if page.position is None:
            break
        high = ids.before(page.position)
    # Then no page reads much past the budget, each answers empty with a position, and
    # together they read every item exactly once, in growing queries rather than 3,000 of one
    assert all(p.items == [] for p in pages)
    assert all(p.scanned <= 1000 + 512 for p in pages), [p.scanned for p in pages]
    assert [p.budget_spent for p in pages] == [True] * (len(pages) - 1) + [False]
    assert sum(p.scanned for p in pages) == fake.read == 3000
    assert all(p.queries <= 11 for p in pages), [p.queries for p in pages]


def test_a_residual_filter_costs_little_beyond_its_own_selectivity():
    # Given four status branches (95/3/2/0.5%) behind a residual filter that keeps 41% of items
    rng = random.Random(5)
    rows = {name: [] for name in ("ok", "warn", "fail", "busy")}
    for n in range(8000):
        name = rng.choices(list(rows), weights=[94.5, 3, 2, 0.5])[0]
        rows[name].append((nid(n), rng.random() < 0.41))
    for name in rows:
        rows[name].sort(reverse=True)
    expected = sorted((i for branch in rows.values() for i, kept in branch if kept), reverse=True)
    got, read = [], 0

    def fetch(branch, low, high, limit):
        in_range = [row for row in rows[branch.hash_key] if low <= row[0] <= high]
        chunk = in_range[:limit]
        more = len(in_range) > limit
        return Fetched([Item(i) for i, kept in chunk if kept], chunk[-1][0] if more else None, len(chunk))

    # When five pages of 50 are merged, each starting below the last id returned
    high = nid(10**9)
    for _ in range(5):
        page = merge_newest_first([Branch(None, name) for name in rows], fetch, limit=50, high_id=high)
        got += [item.id for item in page.items]
        read += page.scanned
        high = ids.before(page.position)
    # Then they are the right pages, read at most ~20% beyond what the filter forces (1 / 0.41)
    assert got == expected[:250]
    assert read / len(got) <= 1.2 / 0.41, read / len(got)


def test_a_page_says_more_only_when_one_more_item_exists():
    # Given two branches holding two items in all
    fake = FakeBranches({"a": [nid(2)], "b": [nid(1)]})
    # When paged one item at a time
    first = merge_newest_first(fake.branches, fake.fetch, limit=1)
    second = merge_newest_first(fake.branches, fake.fetch, limit=1, high_id=ids.before(first.position))
    # Then the first page points on, and the second, holding the last item, does not
    assert [i.id for i in first.items] == [nid(2)] and first.position is not None
    assert [i.id for i in second.items] == [nid(1)] and second.position is None
    assert merge_newest_first(fake.branches, fake.fetch, limit=2).position is None


class MovingJobs:
    """One partition's status branches in memory, where jobs finish while a page is read.

    ``moves`` maps a fetch call number to the jobs that move from IN_PROGRESS to their
    final status just before that call: every interleaving of reads and updates can be
    replayed exactly.
    """

    def __init__(self, rows: dict[Status, list[str]], finals: dict[str, Status], moves: dict[int, list[str]]):
        self.rows = {status: set(ids_) for status, ids_ in rows.items()}
        self.finals, self.moves = finals, moves
        self.calls = 0
        self.lock = threading.Lock()

    @property
    def branches(self):
        return [Branch("by_type", "org#0#BACKGROUND_JOB", status) for status in self.rows]

    def fetch(self, branch, low, high, limit):
        with self.lock:
            for job in self.moves.get(self.calls, []):
                self.rows[Status.IN_PROGRESS].discard(job)
                self.rows[self.finals[job]].add(job)
            self.calls += 1
            in_range = sorted((i for i in self.rows[branch.status] if low <= i <= high), reverse=True)
        rows = in_range[:limit]
        return Fetched([Item(i) for i in rows], rows[-1] if len(in_range) > limit else None, len(rows))


def page_all(source, limit: int) -> list[str]:
    seen, high = [], ids.HIGHEST_ID
    for _ in range(1000):
        page = source_page = merge_newest_first(source.branches, source.fetch, limit=limit, high_id=high)
        seen += [item.id for item in source_page.items]
        if page.position is None:
            return seen
        high = ids.before(page.position)
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_a_job_finishing_while_pages_are_read_is_listed_exactly_once_whenever_it_moves(limit):
    # Given a partition's IN_PROGRESS, SUCCESS and FAILED branches, and three running jobs
    rng = random.Random(limit)
    everything = [nid(n) for n in range(1, 40)]
    jobs = {nid(30): Status.FAILED, nid(17): Status.SUCCESS, nid(5): Status.FAILED}
    rows = {Status.IN_PROGRESS: list(jobs), Status.SUCCESS: [], Status.FAILED: []}
    for i in everything:
        if i not in jobs:
            rows[rng.choice([Status.SUCCESS, Status.FAILED])].append(i)
    calls = len(MovingJobs(rows, jobs, {}).branches) * 30
    # When each job finishes before any one of the reads (every interleaving, one at a time)
    for job in jobs:
        for moment in range(calls):
            source = MovingJobs(rows, jobs, {moment: [job]})
            listed = page_all(source, limit)
            # Then every entry, the moved job included, is listed exactly once, newest first
            assert listed == sorted(everything, reverse=True), (job, moment)
