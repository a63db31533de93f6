"""One API over both tiers: two years of an org, the recent weeks in the table (DynamoDB Local), the rest
compacted from the archive into the warm tier (Parquet in moto's S3).

The history is made as production makes it: entries recorded as they occur (the service's clock at each
one), the table's stream archived by the ArchiveFunction, compaction up to ``compactable_through``, the
table's Time to Live deleting what expired (its EXPIRE markers archived too). Every filter combination,
paged in small pages across the boundary, answers exactly the ids a brute-force read of everything
recorded gives, in order; also while compaction advances and TTL sweeps between the pages.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from activitylog import store
from activitylog.archive.store import S3Objects
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.errors import BadRequest, Conflict, NotFound
from activitylog.inputs import EntryUpdate, NewEntry
from activitylog.query.filters import parse_list_request
from activitylog.service import ActivityService
from activitylog.warm import compact, tier
from tests.support.store import NOW, WRITER

WARM = "warm-bucket"
HOT_DAYS = 30
USERS = ["u_1", "u_2", "u_3"]
TWO_YEARS = {"from": (NOW - timedelta(days=729)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()}
ACROSS = {"from": (NOW - timedelta(days=40)).isoformat(), "to": (NOW - timedelta(days=25)).isoformat()}
FILTERS = [
    {},
    {"type": "USER_ACTION"},
    {"type": "WEBHOOK,SYSTEM_EVENT"},
    {"status": "FAILED"},
    {"status": "WARNING,FAILED"},
    {"status": "IN_PROGRESS"},
    {"user": "u_2"},
    {"entity_type": "product"},
    {"entity_type": "contact", "entity_id": "r_2"},
    {"type": "BACKGROUND_JOB", "status": "FAILED,WARNING"},
    {"user": "u_1", "type": "USER_ACTION"},
    {"user": "u_3", "type": "WEBHOOK"},
    {"entity_type": "product", "type": "WEBHOOK"},
    {"user": "u_2", "status": "WARNING,FAILED"},
    {"entity_type": "contact", "entity_id": "r_1", "type": "USER_ACTION"},
    {"type": "WEBHOOK", "status": "WARNING,FAILED"},
    {"correlation_id": "run_3"},
]


def documents(seed: int = 20) -> list[dict]:
    """300 entries over two years and 150 in the table's last month, oldest first, each at its own millisecond."""
    rng = random.Random(seed)
    moments = sorted([NOW - timedelta(minutes=rng.randint(60 * 24 * 32, 60 * 24 * 728)) for _ in range(300)]
                     + [NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 32)) for _ in range(150)])
    made = []
    for n, moment in enumerate(moments):
        kind = rng.choices(["USER_ACTION", "BACKGROUND_JOB", "WEBHOOK", "SYSTEM_EVENT"], weights=[5, 3, 2, 1])[0]
        status = rng.choices(["SUCCESS", "WARNING", "FAILED"], weights=[80, 8, 7])[0]
        user = rng.random() < 0.6
        made.append({
            "type": kind, "status": status,
            "actor": {"kind": "user", "id": rng.choice(USERS), "name": "User"} if user
            else {"kind": "system", "id": "system", "name": "system"},
            "action": "updated", "event": f"event {n}",
            "entity": {"type": rng.choice(["contact", "release", "product"]), "id": f"r_{rng.randint(1, 4)}",
                       "label": f"label {n}"} if rng.random() < 0.8 else None,
            "before": {"name": f"a{n}"}, "after": {"name": f"b{n}"},
            "metadata": {"n": n},
            "correlation_id": f"run_{rng.randint(1, 6)}" if rng.random() < 0.5 else None,
            "occurred_at": (moment + timedelta(milliseconds=n)).isoformat(),
        })
    return made


def oracle(entries: list[dict], params: dict) -> list[str]:
    low, high = datetime.fromisoformat(params["from"]), datetime.fromisoformat(params["to"])
    types = set(params["type"].split(",")) if "type" in params else None
    statuses = set(params["status"].split(",")) if "status" in params else None

    def matches(e: dict) -> bool:
        entity = e["entity"] or {}
        return (
            (types is None or e["type"] in types)
            and (statuses is None or e["status"] in statuses)
            and ("user" not in params or (e["actor"]["kind"] == "user" and e["actor"]["id"] == params["user"]))
            and ("entity_type" not in params or entity.get("type") == params["entity_type"])
            and ("entity_id" not in params or entity.get("id") == params["entity_id"])
            and ("correlation_id" not in params or e["correlation_id"] == params["correlation_id"])
            and low <= datetime.fromisoformat(e["occurred_at"]) <= high
        )

    return sorted((e["id"] for e in entries if matches(e)), reverse=True)


def tiered(world, clock=lambda: NOW) -> ActivityService:
    settings = Settings(table_name=world.service.config.table_name, detail_bucket=None, cursor_secret="x",
                        policy_seconds=0, warm_bucket=WARM, hot_table_days=HOT_DAYS)
    return ActivityService(settings, store.EntryStore(DetailStore(None)), clock=clock,
                           warm=tier.WarmTier(S3Objects(WARM, world.s3)))


def page_through(service: ActivityService, params: dict, limit: int, between=lambda: None) -> list[str]:
    seen, token = [], None
    for _ in range(500):
        query = {**params, "limit": str(limit), **({"cursor": token} if token else {})}
        result = service.list(WRITER, parse_list_request(query), now=NOW)
        seen += [item["id"] for item in result.items]
        token = result.next_cursor
        if not token:
            return seen
        between()
    raise AssertionError("paging did not end")


@pytest.fixture
def history(world, monkeypatch):
    """Two years recorded as they happened, archived, compacted up to ``compactable_through`` and TTL-swept."""
    monkeypatch.setattr(tier, "MANIFEST_SECONDS", 0)  # each page reads the manifest compaction just moved
    world.s3.create_bucket(Bucket=WARM)
    made = documents()
    written: list[dict] = []
    moment = {"now": NOW}
    recorder = tiered(world, clock=lambda: moment["now"])
    for document in made:  # each recorded one minute after it occurred, as a live writer would
        moment["now"] = datetime.fromisoformat(document["occurred_at"]) + timedelta(minutes=1)
        recorded = recorder.record(WRITER, NewEntry.model_validate(document))
        written.append(document | {"id": recorded.id, "entry": recorded})
    world.archive_new()
    return written


def compact_through(world, through) -> None:
    compact.compact(S3Objects(world.archive.bucket, world.s3), S3Objects(WARM, world.s3), WRITER.org, through)


def sweep(world) -> int:
    """The table's Time to Live, once; its EXPIRE markers archived."""
    swept = world.stream.expire()
    world.archive_new()
    return swept


def test_every_filter_pages_across_the_boundary_exactly_as_a_read_of_everything(world, history):
    """One history, two phases: paging while compaction moves the boundary under the pages, then every filter."""
    service = tiered(world)
    sample = {e["id"]: e["entry"] for e in history[::15]}  # as recorded
    last = compact.compactable_through(NOW, HOT_DAYS)

    # While compaction advances and TTL sweeps between two pages: no gap, no duplicate.
    start = last - timedelta(days=4)
    compact_through(world, start)
    assert sweep(world) > 200  # the table kept only its last weeks: what is older is read from the warm tier
    for filters in ({"type": "USER_ACTION"}, {"status": "WARNING,FAILED"}):
        params = filters | ACROSS
        moved, stop = {"through": start, "runs": 0}, start + timedelta(days=2)

        def compaction_and_ttl_run() -> None:  # between two pages: the boundary moves a day, TTL sweeps
            if moved["through"] < stop:
                moved["through"] += timedelta(days=1)
                compact_through(world, moved["through"])
                sweep(world)
                moved["runs"] += 1

        before = service.warm.boundary(WRITER.org)
        assert page_through(service, params, limit=2, between=compaction_and_ttl_run) == oracle(history, params)
        assert moved["runs"] > 0 and service.warm.boundary(WRITER.org) > before  # it did move under the pages
        start = moved["through"]

    # Compacted up to compactable_through and swept: every filter, over two years and around the boundary.
    compact_through(world, last)
    sweep(world)
    boundary = service.warm.boundary(WRITER.org)
    assert compact.boundary(last) == boundary
    assert sum(e["id"] < boundary for e in history) > 250 and sum(e["id"] >= boundary for e in history) > 140
    for window in (TWO_YEARS, ACROSS):
        for filters in FILTERS:
            params = filters | window
            expected = oracle(history, params)
            # Pages of 25 over two years, of 4 over the weeks around the boundary: both see seams mid-page.
            assert page_through(service, params, limit=25 if window is TWO_YEARS else 4) == expected, params
    # Some combinations hold entries on both sides (the test would not see a seam otherwise).
    both = oracle(history, {"type": "USER_ACTION"} | TWO_YEARS)
    assert min(both) < boundary <= max(both)

    # An entry reads from the warm tier as it was recorded: its row, detail and chain.
    warm = [entry_id for entry_id in sample if entry_id < boundary]
    assert len(warm) > 10
    for entry_id in warm:
        after = service.get(WRITER, entry_id)
        assert after.list_view() == sample[entry_id].list_view()
        assert (after.changes, after.metadata, after.correlation_id) == (
            sample[entry_id].changes, sample[entry_id].metadata, sample[entry_id].correlation_id)
    chained = next(entry_id for entry_id in warm if sample[entry_id].correlation_id)
    chain = service.related(WRITER, chained)
    assert [item["id"] for item in chain["items"]] == sorted(
        e["id"] for e in history if e["correlation_id"] == sample[chained].correlation_id)


def test_an_entry_older_than_the_tables_days_cannot_be_recorded_or_change(world):
    world.s3.create_bucket(Bucket=WARM)
    job = {"type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "actor": {"kind": "system", "id": "system", "name": "system"},
           "action": "ran", "event": "Nightly sync", "metadata": {"timeout_seconds": 90 * 86400}}
    moment = {"now": NOW - timedelta(days=HOT_DAYS + 1)}
    service = tiered(world, clock=lambda: moment["now"])
    old = service.record(WRITER, NewEntry.model_validate(job))  # recorded a month ago, while it was hot
    # A job may run long, but its entry is called stalled before it leaves the table (6 days at most).
    assert old.stalls_at == old.occurred_at + timedelta(days=6)
    moment["now"] = NOW
    with pytest.raises(Conflict) as refused:
        service.update(WRITER, old.id, EntryUpdate(status="SUCCESS"))
    assert refused.value.field == "id" and "can no longer change" in str(refused.value)
    assert service.get(WRITER, old.id).status.value == "IN_PROGRESS"  # nothing changed
    with pytest.raises(NotFound):  # an old id of no entry is a 404, as any missing id
        service.update(WRITER, "01ARZ3NDEKTSV4RRFFQ69G5FAV", EntryUpdate(status="SUCCESS"))
    late = job | {"occurred_at": (NOW - timedelta(days=HOT_DAYS, hours=1)).isoformat()}
    with pytest.raises(BadRequest) as refused_write:
        service.record(WRITER, NewEntry.model_validate(late))
    assert refused_write.value.field == "occurred_at"
    fresh = service.record(WRITER, NewEntry.model_validate(job | {"occurred_at": (NOW - timedelta(days=HOT_DAYS - 1)).isoformat()}))
    assert service.update(WRITER, fresh.id, EntryUpdate(status="SUCCESS")).status.value == "SUCCESS"
    assert fresh.expires_at == int(fresh.occurred_at.timestamp()) + (HOT_DAYS + 7) * 86400
