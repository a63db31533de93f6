"""The archive function on stream batches shaped like AWS's: DynamoDB Local's real stream of
entries written through the service, S3 in moto, the local stack's TTL and its bisecting
stream reader.

Every version of every entry must be in the archive exactly once, whatever Lambda does
with the batch: redeliver it, split it around a record that fails, or retry a half-written one.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from activitylog.views import detail_view
from activitylog import store
from activitylog.archive import layout
from activitylog.archive.lines import Line
from activitylog.archive.store import unpack_lines
from activitylog.archive.writer import UnreadableRecord
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.inputs import EntryUpdate, NewEntry
from activitylog.service import ActivityService, Caller
from tests.support.kit import LambdaContext

from .api_events import load_handler_module
from .streams import TableStream, stream_event

MOTO = {"core": {"passthrough": {"services": ["dynamodb"]}}}
WRITER = Caller("org_a", "svc_importer", frozenset({"activity:write", "activity:read"}))
OTHER = Caller("org_b", "svc_importer", frozenset({"activity:write", "activity:read"}))
ARCHIVE, DETAILS = "test-archive", "test-details"


@pytest.fixture
def aws(activity_table, monkeypatch):
    """moto S3 (DynamoDB passed through to DynamoDB Local), the buckets, and the archive function's environment."""
    with mock_aws(config=MOTO):
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (ARCHIVE, DETAILS):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for name, value in {"TABLE_NAME": activity_table, "ARCHIVE_BUCKET": ARCHIVE, "DETAIL_BUCKET": DETAILS,
                            "RETENTION_CACHE_SECONDS": "0"}.items():
            monkeypatch.setenv(name, value)
        from activitylog import wiring

        wiring.reset()
        handler = load_handler_module("ArchiveFunction").lambda_handler
        wiring.reset()
        yield s3
        wiring.reset()


@pytest.fixture
def service(activity_table):
    return ActivityService(Settings(table_name=activity_table, detail_bucket=DETAILS, cursor_secret="x", policy_seconds=0),
                           store.EntryStore(DetailStore(DETAILS)))


@pytest.fixture
def stream(dynamodb_client, activity_table):
    return TableStream(dynamodb_client, activity_table)


def archive(event: dict) -> dict:
    return load_handler_module("ArchiveFunction").lambda_handler(event, LambdaContext())


def document(**overrides) -> NewEntry:
    body = {"type": "USER_ACTION", "status": "SUCCESS", "actor": {"kind": "user", "id": "u_1", "name": "Ann"},
            "action": "updated", "event": "Contact updated", "entity": {"type": "contact", "id": "c_1", "label": "Alex"}}
    return NewEntry.model_validate({**body, **overrides})


def job() -> NewEntry:
    return document(type="BACKGROUND_JOB", status="IN_PROGRESS", actor={"kind": "system", "id": "system", "name": "system"},
                    action="synced", event="SYNC_SQUARE_STOCK", entity={"type": "job", "id": "job_1", "label": "Sync"},
                    metadata={"processed": 0})


def archived(s3) -> dict[str, list[Line]]:
    """Every data object of the archive bucket and its lines."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ARCHIVE, Prefix=layout.ARCHIVE_PREFIX):
        for item in page.get("Contents", []):
            found[item["Key"]] = unpack_lines(s3.get_object(Bucket=ARCHIVE, Key=item["Key"])["Body"].read())
    return found


def versions(s3) -> list[tuple[str, str, str]]:
    return sorted((line.entry_id, line.sequence, line.change) for lines in archived(s3).values() for line in lines)


def is_entry(record: dict) -> bool:
    """An entry's stream record, not an org's meta item (shards, retention, a member of its directory): it has a type."""
    return "ty" in (record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"])


def entry_records(records: list[dict]) -> list[tuple[str, str, str]]:
    """(id, sequence number, change) of every stream record of an entry: what the archive must hold."""
    expected = []
    for record in filter(is_entry, records):
        image = record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"]
        change = record["eventName"]
        if change == "REMOVE" and record.get("userIdentity"):
            change = "EXPIRE"
        expected.append((image["sk"]["S"], record["dynamodb"]["SequenceNumber"], change))
    return sorted(expected)


def test_every_version_is_archived_once_with_ttl_removals_as_expiry_markers(aws, service, stream):
    # Given entries recorded, a job updated twice, another org's entry, and one entry expired by TTL
    recorded = [service.record(WRITER, document(event=f"Contact updated {n}")) for n in range(3)]
    started = service.record(WRITER, job())
    service.update(WRITER, started.id, EntryUpdate.model_validate({"metadata": {"processed": 5}}))
    service.update(WRITER, started.id, EntryUpdate.model_validate({"status": "SUCCESS"}))
    theirs = service.record(OTHER, document())
    expiring = service.stored("org_a", recorded[0].id)
    assert service.store.set_expiry("org_a", expiring.shard, expiring.id, int(datetime.now(timezone.utc).timestamp()) - 60)
    assert stream.expire() == 1
    records = stream.records()

    # When the archive function gets the stream's records as Lambda batches them
    result = archive(stream_event(records))

    # Then the archive holds every version of every entry once, the TTL removal as an EXPIRE line
    assert versions(aws) == entry_records(records)
    assert (result["expired"], result["removed"]) == (1, 0) and result["skipped"] >= 1  # the orgs' shard meta items
    lines = {(line.entry_id, line.change): line.document for lines in archived(aws).values() for line in lines}
    marker = lines[(recorded[0].id, "EXPIRE")]
    assert marker["event"] == "Contact updated 0" and marker["org"] == "org_a"  # the last content, kept
    final = max((doc for (entry_id, _), doc in lines.items() if entry_id == started.id), key=lambda d: int(d["seq"]))
    assert (final["status"], json.loads(final["metadata"])) == ("SUCCESS", {"processed": 5})
    # Partitioned by org and the day the entry occurred, one object per hour of entries in this batch
    for key, group in archived(aws).items():
        for line in group:
            assert key.startswith(layout.hour_prefix(line.org, line.entry_id)), key
    assert any(key.startswith("archive/org=org_b/") for key in archived(aws))
    assert lines[(theirs.id, "INSERT")]["org"] == "org_b"
    # Objects are gzip JSON lines tagged with the org's archive retention class
    key = next(iter(archived(aws)))
    assert aws.get_object_tagging(Bucket=ARCHIVE, Key=key)["TagSet"] == [{"Key": "archive-retention", "Value": "2555d"}]


def test_a_redelivered_batch_writes_the_same_objects(aws, service, stream):
    for n in range(5):
        service.record(WRITER, document(event=f"n{n}"))
    event = stream_event(stream.records())
    archive(event)
    first = {key: aws.head_object(Bucket=ARCHIVE, Key=key)["ETag"] for key in archived(aws)}

    archive(event)  # Lambda delivers the same batch again (a timeout after the writes, say)

    assert {key: aws.head_object(Bucket=ARCHIVE, Key=key)["ETag"] for key in archived(aws)} == first
    assert len(versions(aws)) == len(set(versions(aws))) == 5


def test_a_user_deletion_is_archived_as_a_removal_not_an_expiry(aws, service, stream, dynamodb_client, activity_table):
    entry = service.record(WRITER, document())
    stored = service.stored("org_a", entry.id)
    dynamodb_client.delete_item(TableName=activity_table, Key={"pk": {"S": f"org_a#{stored.shard}"}, "sk": {"S": entry.id}})

    result = archive(stream_event(stream.records()))

    assert result["removed"] == 1 and result["expired"] == 0
    assert [change for _, _, change in versions(aws)] == ["INSERT", "REMOVE"]


def test_a_version_whose_large_detail_was_replaced_since_keeps_its_detail(aws, service, stream):
    big = {"blob": os.urandom(40_000).hex()}  # incompressible: offloaded to the detail bucket
    started = service.record(WRITER, document(type="BACKGROUND_JOB", status="IN_PROGRESS", metadata=big,
                                              actor={"kind": "system", "id": "system", "name": "system"}))
    service.update(WRITER, started.id, EntryUpdate.model_validate({"status": "SUCCESS", "metadata": {"blob": "small now"}}))

    archive(stream_event(stream.records()))

    lines = sorted((line for group in archived(aws).values() for line in group), key=lambda line: int(line.sequence))
    assert [json.loads(line.document["metadata"])["blob"] for line in lines] == [big["blob"], "small now"]
    assert not any(line.document["detail_unavailable"] for line in lines)


def test_a_failing_record_in_the_middle_fails_the_batch_before_anything_is_written(aws, service, stream):
    for n in range(4):
        service.record(WRITER, document(event=f"n{n}"))
    records = [r for r in stream.records() if is_entry(r)]
    broken = json.loads(json.dumps(records[2]))
    broken["dynamodb"]["NewImage"]["bd"] = {"B": "bm90IHpsaWI="}  # "not zlib": a detail that cannot be read
    batch = records[:2] + [broken] + records[3:]

    with pytest.raises(UnreadableRecord, match=broken["dynamodb"]["SequenceNumber"]):
        archive(stream_event(batch))
    assert archived(aws) == {}


class _InProcess:
    """The local stack's runtime for one function: its handler, called here (a FunctionError when it raises)."""

    def __init__(self, fail_puts: int = 0) -> None:
        self.fail_puts = fail_puts  # S3 puts that fail (once each) before the rest succeed

    def invoke(self, function: str, event: dict) -> dict:
        from samlocal.lambdas import FunctionError

        try:
            return archive(event)
        except Exception as error:  # noqa: BLE001 - what Lambda reports as a function error
            raise FunctionError(function, {"errorType": type(error).__name__, "errorMessage": str(error)}) from None

    def find(self, name: str):
        from pathlib import Path

        from samlocal.lambdas import FunctionSpec

        return FunctionSpec(name, name, Path("."), "app.lambda_handler")


def test_bisecting_around_a_failing_record_archives_every_other_version_once(aws, service, stream):
    from samlocal.sources import Checkpoints, StreamSource

    for n in range(7):
        service.record(WRITER, document(event=f"n{n}"))
    records = [r for r in stream.records() if is_entry(r)]
    records[3]["dynamodb"]["NewImage"]["bd"] = {"B": "bm90IHpsaWI="}
    skipped = []
    source = StreamSource(_InProcess(), "ArchiveFunction", stream.arn, "http://unused", Checkpoints(None),
                          maximum_retry_attempts=2, bisect=True, on_failure=skipped.append, retry_seconds=0)

    source._deliver("shardId-1", records)

    bad = records[3]["dynamodb"]["SequenceNumber"]
    assert [r["DDBStreamBatchInfo"]["startSequenceNumber"] for r in skipped] == [bad]
    expected = [v for v in entry_records(records) if v[1] != bad]
    assert versions(aws) == expected


def test_a_half_written_batch_retried_in_halves_leaves_each_version_in_one_object(aws, service, stream, monkeypatch):
    from activitylog.archive.store import ArchiveStore
    from samlocal.sources import Checkpoints, StreamSource

    # Entries of three hours: the batch makes three objects; the second write fails once.
    now = datetime.now(timezone.utc)
    for hours in (3, 2, 1, 3, 2, 1):
        service.record(WRITER, document(occurred_at=(now - timedelta(hours=hours)).isoformat()))
    records = [r for r in stream.records() if is_entry(r)]
    original, calls = ArchiveStore.put_lines, []

    def flaky(self, key, lines, tag):
        calls.append(key)
        if len(calls) == 2:
            raise ConnectionError("S3 went away")
        return original(self, key, lines, tag)

    monkeypatch.setattr(ArchiveStore, "put_lines", flaky)
    source = StreamSource(_InProcess(), "ArchiveFunction", stream.arn, "http://unused", Checkpoints(None),
                          maximum_retry_attempts=2, bisect=True, retry_seconds=0)

    source._deliver("shardId-1", records)

    assert len(calls) > 3  # the first attempt failed part-way and the halves wrote again
    assert versions(aws) == entry_records(records)
    everything = [(line.entry_id, line.sequence) for lines in archived(aws).values() for line in lines]
    assert len(everything) == len(set(everything)) == len(records)


def test_a_change_of_archive_retention_retags_the_objects_archived_before_it(aws, service, stream):
    from activitylog.archive.store import ArchiveStore
    from activitylog.inputs import RetentionChange
    from activitylog.retention.restamp import Restamper
    from activitylog.retention.settings import RetentionSettings

    for n in range(3):
        service.record(WRITER, document(event=f"n{n}", occurred_at=(datetime.now(timezone.utc) - timedelta(hours=n)).isoformat()))
    archive(stream_event(stream.records()))
    archived_until = stream.records()[-1]["dynamodb"]["SequenceNumber"]
    admin = Caller("org_a", "u_admin", frozenset({"activity:admin"}), "Admin")

    RetentionSettings(service).change(admin, RetentionChange(archive_days=3650))
    restamper = Restamper(service, ArchiveStore(ARCHIVE), sleep=lambda _: None)
    while restamper.step("org_a").state != "done":
        pass

    tags = {key: aws.get_object_tagging(Bucket=ARCHIVE, Key=key)["TagSet"] for key in archived(aws) if "org=org_a" in key}
    assert len(tags) == 3 and all(tag == [{"Key": "archive-retention", "Value": "3650d"}] for tag in tags.values())
    assert service.retention("org_a", fresh=True).restamp.archive_objects == 3
    # New objects get the new class (here at once: this test's functions re-read the policy on every batch).
    archive(stream_event(stream.records(), after=archived_until))
    (newest,) = [key for key, lines in archived(aws).items() if any(line.document["type"] == "SYSTEM_EVENT" for line in lines)]
    assert aws.get_object_tagging(Bucket=ARCHIVE, Key=newest)["TagSet"][0]["Value"] == "3650d"


# -- support look-ups ---------------------------------------------------------------------------------


def support(entry_id: str, org: str = "org_a", scope: str = "activity:support") -> tuple[int, dict]:
    from .api_events import api_event, claims, handler_module

    event = api_event("GET", f"/support/activities/{entry_id}", query={"reason": "ticket 4312"},
                      claims=claims(org=org, sub="u_support", scope=scope))
    answer = handler_module("GET", f"/support/activities/{entry_id}").lambda_handler(event, LambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


@pytest.mark.parametrize("entry_id", ["7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "7ZZZZZZZZZ0000000000000000", "00000000000000000000000000"])
def test_support_answers_an_id_its_pattern_accepts_but_no_entry_has_with_404(aws, service, entry_id):
    # Given ids at the very ends of the pattern (7ZZZ…: year 10889, past what a datetime holds), with an archive to look in
    # When support looks one up, Then it is a 404 naming the id, as for any id no entry has
    status, answer = support(entry_id)
    assert (status, answer.get("field")) == (404, "id"), answer


def test_support_finds_an_entry_that_expired_from_the_hot_store_in_the_archive(aws, service, stream):
    # Given a job recorded, updated, finished, then removed from the table by its TTL and archived
    started = service.record(WRITER, job())
    service.update(WRITER, started.id, EntryUpdate.model_validate({"metadata": {"processed": 40}}))
    finished = service.update(WRITER, started.id, EntryUpdate.model_validate({"status": "FAILED", "error": {"message": "Square said 503"}}))
    stored = service.stored("org_a", started.id)
    service.store.set_expiry("org_a", stored.shard, started.id, int(datetime.now(timezone.utc).timestamp()) - 1)
    assert stream.expire() == 1
    assert service.stored("org_a", started.id) is None
    archive(stream_event(stream.records()))

    # When support looks it up by the id the customer gave
    status, found = support(started.id)

    # Then it is found in the archive: its last version, how many there were, and when it expired
    assert status == 200, found
    assert (found["found_in"], found["versions"], found["status"]) == ("archive", 5, "FAILED")  # insert, 2 updates, re-stamp, expiry
    assert found["error"] == {"message": "Square said 503"} and found["metadata"] == {"processed": 40}
    assert found["expired_at"] is not None and found["removed_at"] is None
    assert found["finished_at"] == detail_view(finished)["finished_at"]
    # The dashboard's API no longer has it; another org's support cannot see it; readers cannot use the route.
    assert service.store.get(service.storage("org_a"), started.id) is None
    assert support(started.id, org="org_b")[0] == 404
    assert support(started.id, scope="activity:read")[0] == 403


def test_support_finds_an_entry_whose_day_was_compacted_and_that_left_the_table_in_the_raw_archive(aws, service, stream):
    from activitylog.archive.store import S3Objects
    from activitylog.warm import compact
    from tests.support.warm import compact_through

    # Given a job recorded 40 days ago, finished, expired from the table and archived, and its day compacted
    started = service.record(WRITER, document(type="BACKGROUND_JOB", status="IN_PROGRESS",
                                              occurred_at=(datetime.now(timezone.utc) - timedelta(days=40)).isoformat()))
    service.update(WRITER, started.id, EntryUpdate.model_validate({"status": "SUCCESS"}))
    stored = service.stored("org_a", started.id)
    service.store.set_expiry("org_a", stored.shard, started.id, int(datetime.now(timezone.utc).timestamp()) - 1)
    assert stream.expire() == 1
    archive(stream_event(stream.records()))
    aws.create_bucket(Bucket="test-warm")
    day = started.occurred_at.date()
    files = compact_through(S3Objects(ARCHIVE, aws), S3Objects("test-warm", aws), "org_a", day)
    assert [(f.min_id, f.max_id) for f in files] == [(started.id, started.id)]
    assert compact.current(S3Objects("test-warm", aws), "org_a") == files

    # When support looks it up, Then the raw archive (every version stays there) answers it
    status, found = support(started.id)
    assert status == 200, found
    assert (found["found_in"], found["status"], found["versions"]) == ("archive", "SUCCESS", 4)  # insert, update, re-stamp, expiry
    assert found["expired_at"] is not None and found["removed_at"] is None


def test_support_finds_a_hot_entry_in_the_table_and_says_so(aws, service):
    entry = service.record(WRITER, document())
    status, found = support(entry.id)
    assert status == 200 and (found["found_in"], found["id"], found["expired_at"]) == ("hot", entry.id, None)
    assert support("01ARZ3NDEKTSV4RRFFQ69G5FAV")[0] == 404
    assert support("not-an-id")[0] == 400


# -- the archive query -----------------------------------------------------------------------------------


def test_the_archive_query_returns_the_entries_the_api_lists_for_the_same_window_and_filters(aws, service, stream, tmp_path):
    from activitylog.support.archive_query import mirror, query
    from activitylog.archive.store import S3Objects
    from activitylog.query.filters import parse_list_request

    from tests.support.store import COMBINATIONS, NOW, page_through, random_documents, write_all

    # Given three days of entries, some jobs that then finished (so their latest version differs), archived
    written = write_all(service, WRITER, random_documents(160, seed=12))
    jobs = [e for e in written if e["status"] == "IN_PROGRESS"][:8]
    for n, entry in enumerate(jobs):
        service.update(WRITER, entry["id"], EntryUpdate.model_validate({"status": "FAILED" if n % 2 else "SUCCESS"}))
    write_all(service, OTHER, random_documents(20, seed=13))  # another org, same days
    records = stream.records()
    for start in range(0, len(records), 100):  # as Lambda would batch them
        archive(stream_event(records[start:start + 100]))
    low, high = NOW - timedelta(days=5), NOW + timedelta(minutes=1)
    mirror(S3Objects(ARCHIVE), "org_a", low, high, tmp_path)

    # Then every filter combination answers the same ids from the archive as from the API
    checked = 0
    for params in COMBINATIONS:
        expected = page_through(service, WRITER, params, limit=200)
        rows = query(tmp_path, "org_a", parse_list_request(params).filter, NOW)
        assert [row["id"] for row in rows] == expected, params
        checked += bool(expected)
    assert checked >= len(COMBINATIONS) - 2
    # With the API's list columns (the latest status of a finished job among them)
    finished = query(tmp_path, "org_a", parse_list_request({"type": "BACKGROUND_JOB", "status": "FAILED",
                                                            "from": low.isoformat(), "to": high.isoformat()}).filter, NOW)
    assert {row["id"] for row in finished} >= {e["id"] for n, e in enumerate(jobs) if n % 2}
    listed = service.list(WRITER, parse_list_request({"limit": "1", "from": low.isoformat(), "to": high.isoformat()}), now=NOW).items[0]
    (row,) = [r for r in query(tmp_path, "org_a", parse_list_request({"from": low.isoformat(), "to": high.isoformat()}).filter, NOW)
              if r["id"] == listed["id"]]
    assert {key: row[key] for key in listed} == listed
