"""The store and service against real DynamoDB Local, tables created from template.yaml.

The oracle is plain Python over everything written: every filter combination, paged
to the end, must return exactly what the oracle says, newest first, for 1 and 4 shards.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from activitylog.api.errors import status_of
from activitylog.views import detail_view
from activitylog import details, store
from activitylog.inputs import EntryUpdate, NewEntry
from activitylog.errors import Conflict
from activitylog.query.filters import parse_list_request
from activitylog.rules import new_entry
from activitylog.service import ActivityService

from tests.support.store import (
    COMBINATIONS, NOW, OTHER, WINDOW, WRITER, oracle, page_through, random_documents, service_for, write_all,
)

@pytest.fixture(scope="module")
def seeded(dynamodb_client):
    """The same 600 entries written into a 1-shard and a 4-shard org setup (separate tables)."""
    from samlocal.template import create_table

    tables = {}
    for shards in (1, 4):
        name = f"store-{shards}-{random.randrange(10**6)}"
        create_table(dynamodb_client, name)
        store.bind(name)
        service = service_for(name, shards)
        entries = write_all(service, WRITER, random_documents(600, seed=7))
        write_all(service, OTHER, random_documents(50, seed=8))  # another org, never visible
        tables[shards] = (name, service, entries)
    yield tables
    for name, _, _ in tables.values():
        dynamodb_client.delete_table(TableName=name)


@pytest.mark.parametrize("params", COMBINATIONS, ids=lambda p: ",".join(k for k in p if k not in ("from", "to")) or "window")
def test_every_filter_combination_pages_to_exactly_the_oracle_for_1_and_4_shards(seeded, params):
    results = {}
    for shards, (name, service, entries) in seeded.items():
        store.bind(name)
        # Given entries with ids minted at write time, the oracle matches on their recorded fields
        expected = oracle(entries, params)
        # When paging through with a small page size
        got = page_through(service, WRITER, params, limit=11)
        # Then every entry comes once, newest first, nothing missing, nothing from org_b
        assert got == expected
        events = {e["id"]: e["event"] for e in entries}
        results[shards] = [events[i] for i in got]
    # The same documents come back in the same order whatever the shard count
    assert results[1] == results[4]


def test_a_single_page_has_the_newest_entries_first(seeded):
    name, service, entries = seeded[4]
    store.bind(name)
    result = service.list(WRITER, parse_list_request({**WINDOW, "limit": "20"}))
    ids = [item["id"] for item in result.items]
    assert ids == oracle(entries, WINDOW)[:20]
    assert result.next_cursor


def test_entries_past_their_expiry_are_dropped_before_ttl_removes_them(activity_table):
    service = service_for(activity_table, 2)
    kept = service.record(WRITER, NewEntry.model_validate(random_documents(1, 1)[0] | {"occurred_at": None}))
    stale = service.record(WRITER, NewEntry.model_validate(random_documents(1, 2)[0] | {"occurred_at": None}))
    # Expire one by hand, as TTL would (TTL deletes lag by days)
    item = store.EntryItem.get(store.keys.table_pk("org_a", store.keys.shard_of(stale.id, 2)), stale.id)
    item.update(actions=[store.EntryItem.expires_at.set(int(time.time()) - 10)])
    listed = [i["id"] for i in service.list(WRITER, parse_list_request({})).items]
    assert listed == [kept.id]
    with pytest.raises(Exception) as caught:
        service.get(WRITER, stale.id)
    assert status_of(caught.value) == 404


def test_another_orgs_entry_is_not_found(activity_table):
    service = service_for(activity_table, 2)
    entry = service.record(WRITER, NewEntry.model_validate(random_documents(1, 3)[0] | {"occurred_at": None}))
    with pytest.raises(Exception) as caught:
        service.get(OTHER, entry.id)
    assert status_of(caught.value) == 404
    assert service.list(OTHER, parse_list_request({})).items == []


def test_a_batch_is_all_or_nothing(activity_table):
    service = service_for(activity_table, 2)
    existing = service.record(WRITER, NewEntry.model_validate(random_documents(1, 4)[0] | {"occurred_at": None}))
    fresh = [new_entry(NewEntry.model_validate(d | {"occurred_at": None}), WRITER.subject, service.clock(), 730) for d in random_documents(5, 5)]
    # Given a batch in which one entry collides with an existing id
    clash = service.store.get(service.storage("org_a"), existing.id)
    with pytest.raises(Conflict):
        service.store.put_all(service.storage("org_a"), fresh + [clash])
    # Then none of the batch was written
    assert all(service.store.get(service.storage("org_a"), e.id) is None for e in fresh)
    assert [i["id"] for i in service.list(WRITER, parse_list_request({})).items] == [existing.id]


def test_large_details_go_to_s3_and_come_back_whole(activity_table):
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="details")
        service = service_for(activity_table, 2, bucket="details")
        rng = random.Random(9)
        stack = "\n".join(f"  File \"job.py\", line {rng.randint(1, 9999)}, in step_{rng.getrandbits(64):x}" for _ in range(8000))
        document = random_documents(1, 6)[0] | {"occurred_at": None, "status": "FAILED",
                                                "error": {"message": "sync failed", "type": "SyncError", "stack": stack},
                                                "metadata": {"response": "x" * 300_000}}
        entry = service.record(WRITER, NewEntry.model_validate(document))
        item = store.EntryItem.get(store.keys.table_pk("org_a", store.keys.shard_of(entry.id, 2)), entry.id)
        assert item.detail is None and item.detail_ref.startswith("details/730d/org_a/")
        got = service.get(WRITER, entry.id)
        assert got.error["stack"] == stack and got.metadata["response"] == "x" * 300_000
        assert len(details.pack(detail_view(got))) > details.OFFLOAD_BYTES


def test_small_details_are_compressed_into_the_item(activity_table):
    service = service_for(activity_table, 2)
    document = random_documents(1, 10)[0] | {"occurred_at": None, "metadata": {"note": "ok " * 400}}
    entry = service.record(WRITER, NewEntry.model_validate(document))
    item = store.EntryItem.get(store.keys.table_pk("org_a", store.keys.shard_of(entry.id, 2)), entry.id)
    assert item.detail_ref is None and len(item.detail) < 200
    assert service.get(WRITER, entry.id).metadata == {"note": "ok " * 400}


def job(service: ActivityService) -> str:
    document = random_documents(1, 11)[0] | {"occurred_at": None, "type": "BACKGROUND_JOB", "status": "IN_PROGRESS"}
    return service.record(WRITER, NewEntry.model_validate(document)).id


def test_job_status_moves_forward_only_and_moves_its_index_entries(activity_table):
    service = service_for(activity_table, 2)
    job_id = job(service)
    service.update(WRITER, job_id, EntryUpdate(metadata={"processed": 10}))
    done = service.update(WRITER, job_id, EntryUpdate(status="FAILED", error={"message": "card declined"}))
    assert done.status.value == "FAILED" and done.metadata == {"processed": 10}
    # The type×status index now finds it under FAILED and no longer under IN_PROGRESS
    failed = service.list(WRITER, parse_list_request({"type": "BACKGROUND_JOB", "status": "FAILED"}))
    running = service.list(WRITER, parse_list_request({"type": "BACKGROUND_JOB", "status": "IN_PROGRESS"}))
    assert [i["id"] for i in failed.items] == [job_id] and running.items == []
    with pytest.raises(Conflict):
        service.update(WRITER, job_id, EntryUpdate(status="IN_PROGRESS", metadata={"processed": 20}))
    assert service.update(WRITER, job_id, EntryUpdate(status="FAILED")).metadata == {"processed": 10}


def test_concurrent_completions_leave_exactly_one_terminal_status(activity_table):
    service = service_for(activity_table, 2)
    job_id = job(service)
    outcomes: list[str] = []

    def complete(status: str) -> None:
        try:
            service.update(WRITER, job_id, EntryUpdate(status=status, metadata={f"by_{status}": 1}))
            outcomes.append(status)
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=complete, args=(s,)) for s in ("SUCCESS", "FAILED", "WARNING") for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = service.get(WRITER, job_id)
    winners = {o for o in outcomes if o != "conflict"}
    assert winners == {final.status.value}
    assert final.metadata == {f"by_{final.status.value}": 1}


def test_a_batch_entry_older_than_retention_is_rejected_alone(activity_table):
    service = service_for(activity_table, 2)
    old = random_documents(1, 12)[0] | {"occurred_at": (NOW - timedelta(days=800)).isoformat()}
    fresh = random_documents(1, 13)[0] | {"occurred_at": None}
    result = service.record_batch(WRITER, [old, fresh])
    assert result["accepted"] == 1 and result["rejected"] == 1
    assert result["results"][0]["field"] == "entries.0.occurred_at"
    assert "retention" in result["results"][0]["reason"]
    assert [i["id"] for i in service.list(WRITER, parse_list_request({})).items] == [result["results"][1]["id"]]


def test_a_job_written_before_the_shard_count_grew_is_still_read_and_updated_in_place(activity_table):
    # Given a job recorded while the org had 1 shard
    before = service_for(activity_table, 1)
    job_id = job(before)
    # When the org moves to 4 shards and the job completes
    after = service_for(activity_table, 4)
    done = after.update(WRITER, job_id, EntryUpdate(status="SUCCESS", metadata={"processed": 3}))
    # Then the same item changed (no second copy under another shard) and every view agrees
    assert done.status.value == "SUCCESS"
    assert [i["id"] for i in after.list(WRITER, parse_list_request({})).items] == [job_id]
    assert [i["id"] for i in after.list(WRITER, parse_list_request({"status": "SUCCESS"})).items] == [job_id]
    assert after.list(WRITER, parse_list_request({"status": "IN_PROGRESS"})).items == []


def test_an_offloaded_detail_is_replaced_by_a_fresh_object_and_the_old_one_removed(activity_table):
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="details")
        service = service_for(activity_table, 2, bucket="details")
        big = {"log": "".join(f"{random.Random(n).getrandbits(64):x}" for n in range(5000))}
        document = random_documents(1, 14)[0] | {"occurred_at": None, "type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "metadata": big}
        job_id = service.record(WRITER, NewEntry.model_validate(document)).id
        first = [o["Key"] for o in s3.list_objects_v2(Bucket="details")["Contents"]]
        service.update(WRITER, job_id, EntryUpdate(status="SUCCESS", metadata={"processed": 1}))
        now = [o["Key"] for o in s3.list_objects_v2(Bucket="details")["Contents"]]
        # One object per committed version, under the retention period's prefix; the replaced one is gone
        assert len(first) == len(now) == 1 and first != now
        assert now[0].startswith(f"details/730d/org_a/{job_id}/")
        assert service.get(WRITER, job_id).metadata == {**big, "processed": 1}
