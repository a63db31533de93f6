"""An org's retention policy: GET/PUT /settings/retention through the settings function, its
SYSTEM_EVENT, the expiry of new entries, and the re-stamp of existing ones, on DynamoDB Local.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from activitylog import ids
from activitylog.api import common
from activitylog.errors import Conflict
from activitylog.retention.restamp import Restamper

from .api_events import claims
from tests.support.api import READER, WRITER, entry, job

ADMIN = claims(org="org_acme", sub="u_admin", scope="activity:admin", name="Morgan Admin")
OTHER_ADMIN = claims(org="org_globex", sub="u_boss", scope="activity:admin", name="Sam Boss")
DAY = 86400


@pytest.fixture
def admin_api(api, monkeypatch):  # noqa: F811 - the imported fixture
    monkeypatch.setenv("RETENTION_CACHE_SECONDS", "0")  # the re-stamp starts at once; every read sees a change
    from activitylog import wiring

    wiring.reset()
    return api


def policy(api, token=ADMIN):
    return api.call("GET", "/settings/retention", token=token)


def change(api, body, token=ADMIN):
    return api.call("PUT", "/settings/retention", body=body, token=token)


def restamp_to_the_end(org: str = "org_acme") -> list:
    restamper, steps = Restamper(common.service(), archive=None, sleep=lambda _: None), []
    while True:
        steps.append(restamper.step(org))
        if steps[-1].state == "done":
            return steps


def test_the_default_policy_is_two_years_hot_and_seven_archived(admin_api):
    reply = policy(admin_api)
    assert reply.status == 200
    assert reply.body == {"hot_days": 730, "archive_days": 2555, "updated_at": None, "updated_by": None,
                          "existing": {"state": "done", "entries_updated": 0, "archive_objects_updated": 0}}


@pytest.mark.parametrize("token", [READER, WRITER, claims(org="org_acme", sub="u_s", scope="activity:support")])
def test_only_an_admin_reads_or_changes_the_policy(admin_api, token):
    assert policy(admin_api, token).status == 403
    assert change(admin_api, {"hot_days": 365}, token).status == 403
    assert policy(admin_api).body["hot_days"] == 730


def test_a_change_is_a_system_event_with_before_and_after_and_applies_to_new_entries(admin_api):
    reply = change(admin_api, {"hot_days": 365})
    assert reply.status == 200, reply
    assert (reply.body["hot_days"], reply.body["archive_days"], reply.body["updated_by"]) == (365, 2555, "u_admin")
    assert reply.body["existing"]["state"] == "pending"

    events = admin_api.list(type="SYSTEM_EVENT").body["items"]
    assert len(events) == 1 and events[0]["entity"] == {"type": "setting", "id": "retention", "label": "Retention policy"}
    assert events[0]["actor"] == {"kind": "user", "id": "u_admin", "name": "Morgan Admin"}
    assert events[0]["event"] == "Retention policy changed · hot 730 → 365 days"
    detail = admin_api.get(events[0]["id"]).body
    assert detail["changes"] == {"/hot_days": {"before": 730, "after": 365}}
    assert detail["expires_at"] == int(ids.occurred_at(events[0]["id"]).timestamp()) + 365 * DAY

    recorded = admin_api.record(entry()).body
    assert recorded["expires_at"] == int(ids.occurred_at(recorded["id"]).timestamp()) + 365 * DAY
    # The same values again change nothing and record nothing.
    assert change(admin_api, {"hot_days": 365, "archive_days": 2555}).status == 200
    assert len(admin_api.list(type="SYSTEM_EVENT").body["items"]) == 1
    # Another org's policy is its own.
    assert policy(admin_api, OTHER_ADMIN).body["hot_days"] == 730


@pytest.mark.parametrize("body, field", [
    ({"hot_days": 100}, "hot_days"),
    ({"archive_days": 400}, "archive_days"),
    ({"hot_days": 2555, "archive_days": 730}, "archive_days"),  # the archive may not be shorter than the hot store
    ({"archive_days": 365}, "archive_days"),  # shorter than today's 730 hot days
    ({}, "body"),
    ({"hot_days": 365, "forever": True}, "forever"),
    ({"hot_days": "a year"}, "hot_days"),
])
def test_a_bad_policy_is_a_400_naming_the_field_and_changes_nothing(admin_api, body, field):
    reply = change(admin_api, body)
    assert (reply.status, reply.field) == (400, field), reply
    assert policy(admin_api).body["updated_at"] is None
    assert admin_api.list(type="SYSTEM_EVENT").body["items"] == []


def test_a_change_that_loses_a_race_writes_neither_the_policy_nor_its_entry(admin_api):
    service = common.service()
    first = service.retention("org_acme").changed(365, None, datetime.now(timezone.utc), "u_a")
    stale = service.retention("org_acme").changed(1095, None, datetime.now(timezone.utc), "u_b")
    from activitylog.inputs import NewEntry
    from activitylog.rules import new_entry

    def event():
        return new_entry(NewEntry.model_validate(entry(type="SYSTEM_EVENT")), "u_x", datetime.now(timezone.utc), 365)

    service.store.change_retention(service.storage("org_acme"), first, event())
    lost = event()
    with pytest.raises(Conflict):
        service.store.change_retention(service.storage("org_acme"), stale, lost)
    assert service.store.get(service.storage("org_acme"), lost.id) is None
    assert service.retention("org_acme", fresh=True).hot_days == 365


def test_existing_entries_get_the_new_expiry_from_the_restamp(admin_api, monkeypatch):
    now = datetime.now(timezone.utc)
    written = [admin_api.record(entry(occurred_at=(now - timedelta(days=days)).isoformat())).body for days in (1, 100, 300, 500)]
    assert all(e["expires_at"] == int(ids.occurred_at(e["id"]).timestamp()) + 730 * DAY for e in written)

    assert change(admin_api, {"hot_days": 1095}).status == 200
    monkeypatch.setattr(Restamper, "PAGE", 2)
    monkeypatch.setattr(Restamper, "BUDGET_SECONDS", 0)  # one page per step: the progress shows between steps
    steps = restamp_to_the_end()
    assert [s.state for s in steps[:-1]] == ["running"] * (len(steps) - 1) and steps[-1].state == "done"
    assert [s.entries for s in steps] == sorted(s.entries for s in steps)
    # Every entry written before the change; the change's own SYSTEM_EVENT has the new expiry already.
    assert steps[-1].entries == len(written)
    service = common.service()
    for e in written:
        stored = service.stored("org_acme", e["id"])
        assert stored.expires_at == int(ids.occurred_at(e["id"]).timestamp()) + 1095 * DAY, e["id"]
    assert policy(admin_api).body["existing"] == {"state": "done", "entries_updated": len(written), "archive_objects_updated": 0}


def test_a_newer_change_stops_the_older_restamp(admin_api, monkeypatch):
    admin_api.record(entry())
    assert change(admin_api, {"hot_days": 365}).status == 200
    monkeypatch.setattr(Restamper, "BUDGET_SECONDS", 0)
    monkeypatch.setattr(Restamper, "PAGE", 1)
    older = common.service().store.org_meta("org_acme", consistent=True)[1]
    assert change(admin_api, {"hot_days": 90}).status == 200
    # The older change's progress cannot be written over the newer one's.
    assert common.service().store.restamp_progress("org_acme", older.version, older.restamp) is False
    steps = restamp_to_the_end()
    assert steps[-1].state == "done"
    service = common.service()
    stored = [found for shard in range(service.storage("org_acme").read_shards) for found in service.store.expiries("org_acme", shard, None, 100)[0]]
    assert stored and all(exp == int(ids.occurred_at(i).timestamp()) + 90 * DAY for i, exp, _ in stored)


def test_a_restamp_moves_the_version_so_a_job_update_decided_before_it_decides_again(admin_api):
    started = admin_api.record(job()).body
    service = common.service()
    where = service.storage("org_acme")
    read_before = service.store.get(where, started["id"], consistent=True)
    assert service.store.set_expiry("org_acme", read_before.shard, started["id"], started["expires_at"] + DAY)
    read_before.status = read_before.status.__class__("SUCCESS")
    assert service.store.replace(where, read_before, expected_status=read_before.status.__class__("IN_PROGRESS")) is False
    # Through the API the update re-reads and lands, keeping the new expiry.
    assert admin_api.patch(started["id"], {"status": "SUCCESS"}).status == 200
    assert admin_api.get(started["id"]).body["expires_at"] == started["expires_at"] + DAY


# -- offloaded details follow their entry's expiry (issue 18, item 15) ----------------------------------

DETAIL_BUCKET = "activity-log-details-test"


@pytest.fixture
def with_details(admin_api, monkeypatch):
    """The detail bucket in moto (versioned, as template.yaml has it); DynamoDB stays on DynamoDB Local."""
    import boto3
    from moto import mock_aws

    from activitylog import wiring

    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=DETAIL_BUCKET)
        s3.put_bucket_versioning(Bucket=DETAIL_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        monkeypatch.setenv("DETAIL_BUCKET", DETAIL_BUCKET)
        wiring.reset()
        yield admin_api, s3
    wiring.reset()


def lifecycle_expiry(s3, key: str) -> datetime:
    """When template.yaml's DetailBucket lifecycle rules remove the object: of the rules whose prefix and tags
    match it, the earliest expiration wins (S3's rule for conflicting rules), at the midnight UTC after
    creation + days (S3 rounds up to it)."""
    from samlocal.template import load

    rules = load()["Resources"]["DetailBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    head = s3.head_object(Bucket=DETAIL_BUCKET, Key=key)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=DETAIL_BUCKET, Key=key)["TagSet"]}
    created = head["LastModified"].astimezone(timezone.utc)
    days = [rule["ExpirationInDays"] for rule in rules
            if rule["Status"] == "Enabled" and "ExpirationInDays" in rule and key.startswith(rule.get("Prefix", ""))
            and all(tags.get(f["Key"]) == f["Value"] for f in rule.get("TagFilters", []))]
    assert days, f"no lifecycle rule ever removes {key}"
    after = created + timedelta(days=min(days))
    return datetime(after.year, after.month, after.day, tzinfo=timezone.utc) + timedelta(days=1)


@pytest.mark.parametrize("before, after", [(90, 730), (730, 90)], ids=["lengthened", "shortened"])
def test_an_offloaded_detail_follows_its_entrys_expiry_when_the_policy_changes(with_details, before, after):
    api, s3 = with_details
    # Given entries with details too large for their item, written under one hot period
    if before != 730:
        assert change(api, {"hot_days": before}).status == 200
        restamp_to_the_end()
    now = datetime.now(timezone.utc)
    written = [api.record(entry(occurred_at=(now - timedelta(days=days)).isoformat(),
                                metadata={"blob": os.urandom(40_000).hex()})).body for days in (0, 10)]
    service = common.service()

    # When the hot period changes, and the re-stamp has run
    assert change(api, {"hot_days": after}).status == 200
    restamp_to_the_end()

    # Then each detail is removed by the bucket's rules no sooner than its entry expires, and no later than a
    # day after it could have (plus how late the entry was recorded after it occurred)
    for e in written:
        stored = service.stored("org_acme", e["id"])
        assert stored.detail_ref and not stored.detail_missing and stored.metadata["blob"]
        assert stored.expires_at == int(ids.occurred_at(e["id"]).timestamp()) + after * DAY
        expires = datetime.fromtimestamp(stored.expires_at, timezone.utc)
        removed = lifecycle_expiry(s3, stored.detail_ref)
        late = now - ids.occurred_at(e["id"])
        assert expires <= removed <= expires + late + timedelta(days=2), (e["id"], expires, removed)


# -- the re-stamp's loop through the fan-out and the RetentionChanges FIFO queue ------------------------
# The table's stream has two readers (the archive and the streams' fan-out): the fan-out hands each policy change,
# as the stream record it is, to a FIFO queue whose message group is the org; the retention function reads that.

class Lanes:
    """The fan-out and the retention function as Lambda runs them, on the table's real stream and moto's FIFO queue."""

    def __init__(self, stream, queue_url: str) -> None:
        import boto3

        self.stream, self.queue_url, self.seen = stream, queue_url, None
        self.sqs = boto3.client("sqs", region_name="us-east-1")

    def new_records(self) -> list:
        records = [r for r in self.stream.records() if self.seen is None or int(r["dynamodb"]["SequenceNumber"]) > int(self.seen)]
        if records:
            self.seen = records[-1]["dynamodb"]["SequenceNumber"]
        return records

    def fan_out(self) -> dict:
        from tests.integration.streams import stream_event
        from tests.support.kit import LambdaContext, load_handler_module

        return load_handler_module("StreamFanoutFunction").lambda_handler(stream_event(self.new_records()), LambdaContext())

    def received(self) -> list[dict]:
        return self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])

    def retain(self, messages: list[dict]) -> dict:
        """The retention function on one batch; Lambda's poller deletes what it did not report failed."""
        from tests.support.events import sqs_record
        from tests.support.kit import LambdaContext, load_handler_module

        arn = "arn:aws:sqs:us-east-1:123456789012:" + self.queue_url.rsplit("/", 1)[-1]
        answer = load_handler_module("RetentionFunction").lambda_handler(
            {"Records": [sqs_record(m, arn) for m in messages]}, LambdaContext())
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return answer


@pytest.fixture
def lanes(admin_api, activity_table, dynamodb_client, monkeypatch):
    import boto3
    from moto import mock_aws

    from activitylog import wiring
    from tests.integration.streams import TableStream
    from tests.support.faults import MOTO

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config=MOTO):
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="retention-changes.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        monkeypatch.setenv("RETENTION_QUEUE_URL", url)
        monkeypatch.setenv("STREAM_QUEUE_URL", sqs.create_queue(QueueName="streams.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"])
        monkeypatch.delenv("ARCHIVE_BUCKET", raising=False)
        wiring.reset()
        yield Lanes(TableStream(dynamodb_client, activity_table), url)
        wiring.reset()


def test_the_fanout_hands_a_policy_change_unchanged_to_the_orgs_fifo_lane(admin_api, lanes):
    admin_api.record(entry())
    assert change(admin_api, {"hot_days": 365}).status == 200
    records = lanes.stream.records()
    (policy_record,) = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] == "retention"]

    lanes.fan_out()

    (message,) = lanes.received()
    assert json.loads(message["Body"]) == policy_record  # the Lambda stream record, as the stream gave it
    assert message["Attributes"]["MessageGroupId"] == "org_acme#meta"  # one lane an org: its changes in order
    assert message["Attributes"]["MessageDeduplicationId"] == policy_record["dynamodb"]["SequenceNumber"]


def test_a_failed_send_fails_the_fanout_batch_and_its_retry_loses_nothing(admin_api, lanes, monkeypatch):
    from activitylog import wiring

    assert change(admin_api, {"hot_days": 365}).status == 200
    batch = lanes.new_records()
    from tests.integration.streams import stream_event
    from tests.support.kit import LambdaContext, load_handler_module

    handler = load_handler_module("StreamFanoutFunction").lambda_handler
    monkeypatch.setenv("RETENTION_QUEUE_URL", lanes.queue_url.replace("retention-changes", "gone"))  # SQS refuses the send
    wiring.reset()
    with pytest.raises(Exception, match="NonExistentQueue|QueueDoesNotExist|does not exist"):
        handler(stream_event(batch), LambdaContext())  # a function error: Lambda retries the batch
    assert lanes.received() == []

    monkeypatch.setenv("RETENTION_QUEUE_URL", lanes.queue_url)
    wiring.reset()
    handler(stream_event(batch), LambdaContext())  # the retry
    (message,) = lanes.received()
    assert json.loads(message["Body"])["dynamodb"]["Keys"]["sk"]["S"] == "retention"


def test_each_chunks_progress_brings_the_next_through_the_fanout_and_the_queue_until_done(admin_api, lanes, monkeypatch):
    now = datetime.now(timezone.utc)
    written = [admin_api.record(entry(occurred_at=(now - timedelta(days=days)).isoformat())).body for days in (1, 100, 300, 500, 600)]
    monkeypatch.setattr(Restamper, "PAGE", 2)
    monkeypatch.setattr(Restamper, "BUDGET_SECONDS", 0)  # one page per step: the loop must carry it to the end
    assert change(admin_api, {"hot_days": 1095}).status == 200

    rounds = 0
    while rounds < 20:
        lanes.fan_out()  # the stream's new records: entries for the streams, the policy item's writes for the re-stamp
        messages = lanes.received()
        if not messages:
            break
        assert lanes.retain(messages) == {"batchItemFailures": []}
        rounds += 1
    assert 3 <= rounds < 20, rounds  # a chunk a round, each brought by the previous one's progress write
    assert policy(admin_api).body["existing"] == {"state": "done", "entries_updated": len(written), "archive_objects_updated": 0}
    service = common.service()
    for e in written:
        assert service.stored("org_acme", e["id"]).expires_at == int(ids.occurred_at(e["id"]).timestamp()) + 1095 * DAY


def test_an_org_whose_restamp_fails_comes_back_alone_and_the_others_go_on(admin_api, lanes, monkeypatch):
    globex = claims(org="org_globex", sub="u_boss", scope="activity:admin", name="Sam Boss")
    admin_api.record(entry())
    admin_api.record(entry(), token=claims(org="org_globex", sub="svc_jobs", scope="activity:write"))
    for token in (ADMIN, globex):
        assert change(admin_api, {"hot_days": 365}, token).status == 200
    lanes.fan_out()
    messages = lanes.received()
    assert sorted(m["Attributes"]["MessageGroupId"] for m in messages) == ["org_acme#meta", "org_globex#meta"]
    stepped, original = [], Restamper.step

    def step(self, org):
        stepped.append(org)
        if org == "org_acme":
            raise RuntimeError("DynamoDB throttled")
        return original(self, org)

    monkeypatch.setattr(Restamper, "step", step)
    answer = lanes.retain(messages)
    acme = [m["MessageId"] for m in messages if m["Attributes"]["MessageGroupId"] == "org_acme#meta"]
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == sorted(acme)
    assert sorted(stepped) == ["org_acme", "org_globex"]
    assert policy(admin_api, globex).body["existing"]["state"] == "done"
    assert policy(admin_api).body["existing"]["state"] != "done"
