"""The org's vocabulary (GET /catalog): types, statuses and entity types with labels, the actions and webhook
events its log has seen with a count and when last seen, and the job types with whether they can be retried
(issue 22, item 2). The counts are added by the archive function from the table's stream, one update per name
per batch, in the org's meta partition: never a scan, and no use lost.

The table is DynamoDB Local's and its real stream; S3 is moto's; the API's functions are fed API Gateway
events (tests/support/api.py), the archive function stream batches (tests/integration/streams.py).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from activitylog import wiring
from activitylog.entry import iso_time
from activitylog.store import catalog
from tests.support.api import OTHER_ORG_READER, OTHER_ORG_WRITER, READER, WRITER, entry, job
from tests.support.kit import LambdaContext

from .api_events import load_handler_module
from .streams import TableStream, stream_event

STRIPE = {"kind": "external", "id": "stripe", "name": "Stripe"}
NOW = datetime.now(timezone.utc).replace(microsecond=0)
ARCHIVE = "test-archive"


def webhook(event: str, **overrides) -> dict:
    return entry(type="WEBHOOK", actor=STRIPE, action="received", event=event,
                 entity={"type": "payment", "id": "pi_1", "label": "Payment pi_1"}, **overrides)


def at(minutes_ago: int) -> str:
    return iso_time(NOW - timedelta(minutes=minutes_ago))


def read_catalog(api, token=READER, **query) -> dict:
    reply = api.call("GET", "/catalog", query=query or None, token=token)
    assert reply.status == 200, reply
    return reply.body


class Archive:
    """The archive function over the table's stream: ``run()`` hands it what was written since its last run."""

    def __init__(self, stream: TableStream) -> None:
        self.stream, self.after = stream, None

    def pending(self) -> dict:
        event = stream_event(self.stream.records(), self.after)
        if event["Records"]:
            self.after = event["Records"][-1]["dynamodb"]["SequenceNumber"]
        return event

    def run(self, event: dict | None = None) -> dict:
        return load_handler_module("ArchiveFunction").lambda_handler(event or self.pending(), LambdaContext())


@pytest.fixture
def archive(api, dynamodb_client, activity_table, monkeypatch):
    """moto S3 with the archive bucket (DynamoDB passed through to DynamoDB Local), and the archive function."""
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=ARCHIVE)
        monkeypatch.setenv("ARCHIVE_BUCKET", ARCHIVE)
        wiring.reset()
        yield Archive(TableStream(dynamodb_client, activity_table))
        wiring.reset()


def test_the_catalogue_answers_the_vocabulary_and_each_action_and_webhook_event_with_its_count_and_last_seen(api, archive):
    # Given three contact updates, a job, two Stripe events of one kind and one of another
    for minutes_ago in (30, 10, 20):
        assert api.record(entry(occurred_at=at(minutes_ago))).status == 201
    assert api.record(job(occurred_at=at(5))).status == 201
    for event, minutes_ago in (("invoice.paid", 3), ("invoice.paid", 4), ("charge.refunded", 2)):
        assert api.record(webhook(event, occurred_at=at(minutes_ago))).status == 201

    archive.run()
    answer = read_catalog(api)

    # The fixed vocabulary, each value with the label the page shows
    assert {"value": "USER_ACTION", "label": "User action"} in answer["types"]
    assert [s["value"] for s in answer["statuses"]] == ["SUCCESS", "IN_PROGRESS", "WARNING", "FAILED"]
    assert {"value": "team_member", "label": "Team member"} in answer["entity_types"]
    # What the log has seen, most used first, with the latest entry's time (not the last one written)
    assert answer["actions"] == [
        {"type": "WEBHOOK", "action": "received", "count": 3, "last_seen": at(2)},
        {"type": "USER_ACTION", "action": "updated", "count": 3, "last_seen": at(10)},
        {"type": "BACKGROUND_JOB", "action": "processed", "count": 1, "last_seen": at(5)},
    ]
    assert answer["events"] == [
        {"event": "invoice.paid", "count": 2, "last_seen": at(3)},
        {"event": "charge.refunded", "count": 1, "last_seen": at(2)},
    ]
    # The job register, with whether Retry can run each again
    jobs = {j["name"]: j for j in answer["job_types"]}
    assert jobs["SYNC_SQUARE_STOCK"] == {"name": "SYNC_SQUARE_STOCK", "label": "Square stock sync", "retryable": True}
    assert jobs["IMPORT_CONTACTS"]["retryable"] is False

    # One type's actions and events only
    webhooks = read_catalog(api, type="WEBHOOK")
    assert [a["action"] for a in webhooks["actions"]] == ["received"] and len(webhooks["events"]) == 2
    users = read_catalog(api, type="USER_ACTION")
    assert [a["action"] for a in users["actions"]] == ["updated"] and users["events"] == []


def test_another_orgs_vocabulary_never_shows(api, archive):
    api.record(entry(action="archived"), token=WRITER)
    api.record(entry(action="merged"), token=OTHER_ORG_WRITER)
    api.record(webhook("customer.deleted"), token=OTHER_ORG_WRITER)

    archive.run()

    assert [(a["action"], a["count"]) for a in read_catalog(api, token=READER)["actions"]] == [("archived", 1)]
    assert read_catalog(api, token=READER)["events"] == []
    other = read_catalog(api, token=OTHER_ORG_READER)
    assert sorted(a["action"] for a in other["actions"]) == ["merged", "received"]
    assert [e["event"] for e in other["events"]] == ["customer.deleted"]


def test_every_use_is_counted_when_a_name_comes_in_a_burst_and_never_again(api, archive):
    # Five uses of one action in a second, through one container, then nothing more of it: the old tally wrote the
    # first at once and kept the other four until the name came again, which it never did
    for minutes_ago in range(5):
        assert api.record(entry(action="merged", occurred_at=at(minutes_ago + 1))).status == 201
    reply = api.call("POST", "/activities/batch", body={"entries": [entry(action="merged", occurred_at=at(9))] * 2},
                     token=WRITER)
    assert reply.status == 200, reply

    archive.run()

    assert [(a["action"], a["count"], a["last_seen"]) for a in read_catalog(api)["actions"]] == [("merged", 7, at(1))]


def test_a_batch_lambda_delivers_again_after_it_failed_half_way_adds_each_use_once(api, archive, monkeypatch):
    for minutes_ago, action in ((3, "archived"), (2, "merged"), (1, "exported")):
        api.record(entry(action=action, occurred_at=at(minutes_ago)))
    api.record(webhook("invoice.paid", occurred_at=at(4)))
    event = archive.pending()
    real_add, calls = catalog._add, [0]

    def fails_after_two(*arguments):
        calls[0] += 1
        if calls[0] > 2:
            raise RuntimeError("DynamoDB is unreachable")
        real_add(*arguments)

    monkeypatch.setattr(catalog, "_add", fails_after_two)
    with pytest.raises(RuntimeError):
        archive.run(event)  # two names counted, then the batch fails: Lambda sends it again
    monkeypatch.setattr(catalog, "_add", real_add)
    archive.run(event)
    archive.run(event)  # and once more, as after a timeout that came after the writes

    answer = read_catalog(api)
    assert sorted((a["action"], a["count"]) for a in answer["actions"]) == [
        ("archived", 1), ("exported", 1), ("merged", 1), ("received", 1)]
    assert answer["events"] == [{"event": "invoice.paid", "count": 1, "last_seen": at(4)}]


def test_concurrent_batches_leave_exact_counts_and_the_latest_last_seen(api, archive):
    # Given 24 uses of an action and a webhook event, dated so that the latest are not in the last batch
    for number in range(24):
        api.record(entry(action="updated", occurred_at=at(10 + number)))
        api.record(webhook("invoice.paid", occurred_at=at(11 + number)))
    records = archive.pending()["Records"]
    # When eight batches (as eight shards' pollers would send them) are counted at once
    batches = [stream_event(records[n::8]) for n in range(8)]
    start = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def count(event: dict) -> None:
        try:
            start.wait()
            archive.run(event)
        except BaseException as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    threads = [threading.Thread(target=count, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every use is counted once, and last seen is the latest entry's time whichever batch came last
    assert errors == []
    answer = read_catalog(api)
    assert {(a["type"], a["action"]): (a["count"], a["last_seen"]) for a in answer["actions"]} == {
        ("USER_ACTION", "updated"): (24, at(10)),
        ("WEBHOOK", "received"): (24, at(11)),
    }
    assert answer["events"] == [{"event": "invoice.paid", "count": 24, "last_seen": at(11)}]


def test_bad_input_is_a_400_naming_the_parameter(api):
    for query, field in [({"type": "USER"}, "type"), ({"type": ""}, "type"), ({"q": "x"}, "q"), ({"limit": "5"}, "limit")]:
        reply = api.call("GET", "/catalog", query=query)
        assert (reply.status, reply.field) == (400, field), (query, reply)


def test_the_catalogue_needs_a_read_scope(api):
    reply = api.call("GET", "/catalog", token=WRITER)
    assert (reply.status, reply.field) == (403, "scope"), reply
