"""The lazy merge against in-memory branches: order, completeness, and how little it reads."""

import random
from dataclasses import dataclass

import pytest

from activitylog.keys import Branch
from activitylog.merge import Fetched, merge_newest_first


@dataclass
class Item:
    id: str


class FakeBranches:
    """Branches as sorted lists; start keys are offsets. Counts what was read."""

    def __init__(self, contents: dict[str, list[str]]):
        self.contents = {name: sorted(ids, reverse=True) for name, ids in contents.items()}
        self.read = 0
        self.calls = 0

    @property
    def branches(self):
        return [Branch(None, name) for name in self.contents]

    def fetch(self, branch, start_key, limit):
        offset = start_key["offset"] if start_key else 0
        rows = self.contents[branch.hash_key][offset : offset + limit]
        self.read += len(rows)
        self.calls += 1
        more = offset + limit < len(self.contents[branch.hash_key])
        return Fetched([Item(i) for i in rows], {"offset": offset + limit} if more else None, len(rows))


def make_ids(count, rng):
    return [f"{rng.getrandbits(40):010d}" for _ in range(count)]


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
        contents[branch].append(f"{n:08d}")
    fake = FakeBranches(contents)
    # When one page of 50 is merged
    page = merge_newest_first(fake.branches, fake.fetch, limit=50)
    # Then it reads at most the page plus about one head per branch, and a few more for noise
    assert len(page.items) == 50
    assert fake.read == page.scanned
    assert page.scanned <= 50 + 2 * len(shares) + 8, page.scanned


def test_dropped_items_count_as_read_but_are_not_returned():
    fake = FakeBranches({"a": [f"{n:04d}" for n in range(10)]})
    page = merge_newest_first(fake.branches, fake.fetch, limit=5, keep=lambda item: int(item.id) % 2 == 0)
    assert [item.id for item in page.items] == ["0008", "0006", "0004", "0002", "0000"]
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
        contents[rng.choice(["s0", "s1"])].append(f"{n:08d}")
    fake = FakeBranches(contents)
    branches = [Branch(None, name, expected_share=0.5) for name in contents]
    # When a page of 50 is merged
    page = merge_newest_first(branches, fake.fetch, limit=50)
    # Then it is the right page, read in a few queries rather than a doubling ladder
    assert [i.id for i in page.items] == sorted(contents["s0"] + contents["s1"], reverse=True)[:50]
    assert page.queries <= 4
    assert page.scanned <= 60


def test_a_filtered_branch_that_matches_nothing_grows_its_reads():
    # Given a branch whose residual filter drops everything (the fetch returns no items)
    class Filtered(FakeBranches):
        def fetch(self, branch, start_key, limit):
            answer = super().fetch(branch, start_key, limit)
            return Fetched([], answer.next_key, answer.scanned)

    fake = Filtered({"a": [f"{n:05d}" for n in range(3000)]})
    page = merge_newest_first(fake.branches, fake.fetch, limit=50)
    # Then it reads the branch to the end in a handful of growing queries, not 3,000 of one item
    assert page.items == [] and page.scanned == 3000
    assert page.queries <= 12


def test_a_residual_filter_costs_little_beyond_its_own_selectivity():
    # Given four status branches (95/3/2/0.5%) behind a residual filter that keeps 41% of items
    rng = random.Random(5)
    rows = {name: [] for name in ("ok", "warn", "fail", "busy")}
    for n in range(8000):
        name = rng.choices(list(rows), weights=[94.5, 3, 2, 0.5])[0]
        rows[name].append((f"{n:08d}", rng.random() < 0.41))
    for name in rows:
        rows[name].sort(reverse=True)
    expected = sorted((i for branch in rows.values() for i, kept in branch if kept), reverse=True)
    position, got, read = None, [], 0

    def fetch(branch, start_key, limit):
        below = [row for row in rows[branch.hash_key] if position is None or row[0] < position]
        offset = start_key["offset"] if start_key else 0
        chunk = below[offset : offset + limit]
        more = offset + limit < len(below)
        return Fetched([Item(i) for i, kept in chunk if kept], {"offset": offset + limit} if more else None, len(chunk))

    # When five pages of 50 are merged, each starting below the last id returned
    for _ in range(5):
        page = merge_newest_first([Branch(None, name) for name in rows], fetch, limit=50)
        got += [item.id for item in page.items]
        read += page.scanned
        position = page.last_id
    # Then they are the right pages, read at most ~20% beyond what the filter forces (1 / 0.41)
    assert got == expected[:250]
    assert read / len(got) <= 1.2 / 0.41, read / len(got)
