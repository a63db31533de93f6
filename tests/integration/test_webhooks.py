"""Webhook ingest against DynamoDB Local, with moto for SQS, S3 and SSM.

Given the receiver and the ingest function's logic with real storage, when deliveries arrive
(duplicated at once from many threads, oversized, forged in a flood, while the table
refuses writes), then each provider event is one entry, nothing is lost, and a flood of
forgeries records at most five refusals a minute per org. Faults are DynamoDB's own error
answers injected at botocore's ``before-send`` (test_core_faults.faults).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from activitylog.views import detail_view
from activitylog import store
from activitylog.errors import BadRequest, NotFound
from activitylog.inputs import NewEntry
from activitylog.query.filters import parse_list_request
from activitylog.webhooks.queue import MAX_MESSAGE_BYTES
from activitylog.webhooks.receiver import REJECTIONS_PER_MINUTE
from tests.support.kit import provider_event, signed_delivery

from tests.support.events import sqs_record
from tests.support.faults import faults
from tests.support.store import service_for
from tests.support.webhooks import NOW, ORG, OTHER, READER, SECRETS_PATH

def test_a_verified_delivery_is_acknowledged_then_recorded_once_and_a_replay_changes_nothing(hooks):
    event = provider_event("stripe", "evt_once", "payment_intent.succeeded", NOW - timedelta(minutes=5))
    assert hooks.deliver("stripe", event) == {"received": True, "event_id": "evt_once"}
    assert hooks.entries() == []  # acknowledged before anything is written
    hooks.drain()
    (entry,) = hooks.entries()
    assert (entry["event"], entry["status"], entry["actor"]["name"]) == ("payment_intent.succeeded", "SUCCESS", "Stripe")
    detail = detail_view(hooks.service.get(READER, entry["id"]))
    hooks.deliver("stripe", event)  # the provider retries, or someone replays the captured request
    hooks.drain()
    assert hooks.entries() == [entry]
    assert detail_view(hooks.service.get(READER, entry["id"])) == detail  # the stored entry is untouched


def test_the_same_event_recorded_from_eight_threads_at_once_is_one_entry(hooks):
    event = provider_event("square", "sq_evt_race", "payment.updated", NOW - timedelta(minutes=3))
    body = json.dumps(event).encode()
    from activitylog.webhooks.mapping import entry_document, redacted_request
    from activitylog.webhooks.providers import PROVIDERS

    _, identity = PROVIDERS["square"].identity(body)
    start = threading.Barrier(8)

    def record(n: int):
        request = redacted_request({"user-agent": f"delivery {n}"}, body, "https://x")  # each delivery's own headers
        entry = NewEntry.model_validate(entry_document(PROVIDERS["square"], event, identity, request, datetime.now(timezone.utc)))
        start.wait()
        return hooks.service.record_events(ORG, [entry], recorded_by="webhooks")

    with ThreadPoolExecutor(8) as pool:
        results = [r for answer in pool.map(record, range(8)) for r in answer]
    assert len({entry_id for entry_id, _ in results}) == 1
    assert sorted(recorded for _, recorded in results) == [False] * 7 + [True]
    assert len(hooks.entries()) == 1


def test_a_batch_holding_a_stored_event_and_one_event_twice_writes_each_new_event_once(hooks):
    hooks.deliver("fedex", provider_event("fedex", "fx_stored", "IT", NOW - timedelta(hours=2)))
    hooks.drain()
    for event_id in ("fx_stored", "fx_new", "fx_new", "fx_other"):  # one batch: SQS may deliver an event twice in it
        hooks.deliver("fedex", provider_event("fedex", event_id, "IT", NOW - timedelta(hours=2 if event_id == "fx_stored" else 1)))
    (answer,) = hooks.drain()
    assert answer == {"batchItemFailures": []}
    events = sorted(e["id"] for e in hooks.entries())
    assert len(events) == 3 and hooks.queued() == 0


def test_out_of_order_deliveries_are_listed_by_when_the_provider_says_they_happened(hooks):
    times = {"evt_a": NOW - timedelta(minutes=30), "evt_b": NOW - timedelta(minutes=20), "evt_c": NOW - timedelta(minutes=10)}
    for event_id in ("evt_c", "evt_a", "evt_b"):  # arrival order differs from the events' own
        hooks.deliver("stripe", provider_event("stripe", event_id, "charge.succeeded", times[event_id]))
    hooks.drain()
    listed = hooks.entries()
    assert [e["occurred_at"][:19] for e in listed] == [times[k].strftime("%Y-%m-%dT%H:%M:%S") for k in ("evt_c", "evt_b", "evt_a")]


def test_a_body_larger_than_an_sqs_message_goes_through_s3_and_is_recorded_whole(hooks):
    notes = "".join(f"line {n:06d} of a very long order note\n" for n in range(9000))  # ~370 KB
    event = provider_event("stripe", "evt_big", "charge.succeeded", NOW - timedelta(minutes=1), description="big", metadata={"notes": notes})
    assert len(json.dumps(event)) > MAX_MESSAGE_BYTES
    hooks.deliver("stripe", event)
    message = hooks.sqs.receive_message(QueueUrl=hooks.queue_url, VisibilityTimeout=0)["Messages"][0]
    pointer = json.loads(message["Body"])
    assert pointer["offloaded"].startswith("webhooks/org_hooks/stripe/") and len(message["Body"]) < 1000
    assert [o["Key"] for o in hooks.s3.list_objects_v2(Bucket="details")["Contents"]] == [pointer["offloaded"]]
    hooks.drain()
    (entry,) = hooks.entries()
    detail = hooks.service.get(READER, entry["id"])
    assert detail.metadata["webhook"]["request"]["body"]["data"]["object"]["metadata"]["notes"] == notes
    keys = [o["Key"] for o in hooks.s3.list_objects_v2(Bucket="details").get("Contents", [])]
    assert pointer["offloaded"] not in keys  # the offloaded body is deleted once its entry is written


def test_a_write_the_table_refuses_is_reported_comes_back_and_is_then_recorded_once(hooks, quick_backoff):
    hooks.deliver("stripe", provider_event("stripe", "evt_throttled", "charge.succeeded", NOW - timedelta(minutes=2)))
    hooks.deliver("stripe", provider_event("stripe", "evt_fine_too", "charge.succeeded", NOW - timedelta(minutes=2)))
    # Busy items, attempt after attempt (botocore retries throttling by itself; a conflict it hands over).
    with faults("TransactWriteItems", ["TransactionConflict"] * store.WRITE_ATTEMPTS) as seen:
        (answer,) = hooks.drain()
    assert len(seen) == store.WRITE_ATTEMPTS and len(answer["batchItemFailures"]) == 2  # the batch's write failed: both come back
    assert hooks.entries() == [] and hooks.queued() == 2
    message = hooks.sqs.receive_message(QueueUrl=hooks.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    assert message == []  # backing off (INGEST_RETRY_SECONDS): not visible again at once
    _visible_now(hooks)
    hooks.drain()
    assert {e["event"] for e in hooks.entries()} == {"charge.succeeded"} and len(hooks.entries()) == 2
    assert hooks.queued() == 0


def _visible_now(hooks) -> None:
    """Skip the backoff: make every in-flight message visible (as its delay running out would)."""
    from moto.sqs.models import sqs_backends

    for message in sqs_backends["123456789012"]["us-east-1"].get_queue("webhooks")._messages:
        message.visible_at = 0


def test_a_message_that_cannot_be_read_fails_alone_and_the_rest_of_its_batch_is_recorded(hooks):
    hooks.deliver("stripe", provider_event("stripe", "evt_good", "charge.succeeded", NOW - timedelta(minutes=2)))
    hooks.sqs.send_message(QueueUrl=hooks.queue_url, MessageBody='{"provider": "stripe", "org": "org_hooks"')  # poison
    hooks.sqs.send_message(QueueUrl=hooks.queue_url, MessageBody=json.dumps({"provider": "stripe", "org": ORG, "offloaded": "webhooks/gone"}))
    (answer,) = hooks.drain()
    assert len(answer["batchItemFailures"]) == 2
    assert [e["event"] for e in hooks.entries()] == ["charge.succeeded"]


def test_a_forged_delivery_is_a_400_and_a_system_event_warning_never_a_webhook_entry(hooks):
    event = provider_event("stripe", "evt_forged", "payment_intent.succeeded")
    with pytest.raises(BadRequest) as refused:
        hooks.deliver("stripe", event, secret="whsec_attacker")
    assert (refused.value.message, refused.value.field) == ("signature does not match", "stripe-signature")
    assert hooks.queued() == 0 and hooks.entries() == []
    (warning,) = hooks.entries("SYSTEM_EVENT")
    assert (warning["status"], warning["event"]) == ("WARNING", "Webhook rejected · Stripe: signature does not match")
    metadata = hooks.service.get(READER, warning["id"]).metadata["webhook"]
    assert metadata["request"]["headers"]["stripe-signature"] == "*****" and metadata["source_ip"] == "203.0.113.7"
    assert "body" not in metadata["request"] and metadata["request"]["body_bytes"] > 0


def test_a_flood_of_forgeries_records_five_refusals_per_provider_and_minute_then_one_summary_with_the_count(hooks):
    from activitylog.jobs.sweeper import sweep

    minute = datetime.now(timezone.utc).replace(second=30, microsecond=0) - timedelta(minutes=10)
    hooks.service.clock = lambda: minute  # one minute's window, wherever the test starts

    def forge(n: int):
        provider = "fedex" if n % 3 else "stripe"
        event = provider_event(provider, f"evt_flood_{n}", "DL" if provider == "fedex" else "charge.succeeded")
        with pytest.raises(BadRequest):
            hooks.deliver(provider, event, secret="not the secret")

    with ThreadPoolExecutor(8) as pool:  # 32 FedEx forgeries and 16 Stripe ones at once
        list(pool.map(forge, range(48)))
    warnings = hooks.entries("SYSTEM_EVENT")
    # A flood at one provider does not crowd out another's warnings: each has its own quota.
    assert sorted(w["entity"]["id"] for w in warnings) == ["fedex"] * REJECTIONS_PER_MINUTE + ["stripe"] * REJECTIONS_PER_MINUTE
    # Once the minute is over, the sweeper's schedule records what was not recorded: one summary per provider.
    from activitylog.webhooks.rejections import summarize

    assert summarize(hooks.service, minute) == 0  # not before the minute is over
    assert sweep(hooks.service, minute + timedelta(minutes=2)) == {"due": 0, "stalled": 0}  # the jobs' sweep passes them by
    with ThreadPoolExecutor(4) as pool:  # two sweeps at once (a retried schedule) still write each summary once
        list(pool.map(lambda _: summarize(hooks.service, minute + timedelta(minutes=2)), range(4)))
    hooks.service.clock = lambda: datetime.now(timezone.utc)  # read it now: the summary is dated at the minute's end
    summaries = sorted(w["event"] for w in hooks.entries("SYSTEM_EVENT") if w not in warnings)
    assert summaries == ["11 more rejected deliveries from Stripe in the last minute",
                         "27 more rejected deliveries from FedEx in the last minute"]
    assert summarize(hooks.service, minute + timedelta(minutes=7)) == 0  # written once, never again
    with pytest.raises(BadRequest):
        hooks.deliver("stripe", provider_event("stripe", "evt_x", "charge.succeeded"), org=OTHER, secret="nope")
    assert len(hooks.entries("SYSTEM_EVENT", org=OTHER)) == 1  # another org's quota is its own


def test_an_unknown_provider_or_an_org_without_a_secret_is_a_404_that_records_nothing(hooks):
    event = provider_event("stripe", "evt_lost", "charge.succeeded")
    with pytest.raises(NotFound) as refused:
        hooks.receiver.receive("paypal", ORG, json.dumps(event).encode(), {}, "https://x", "203.0.113.7")
    assert refused.value.field == "provider"
    with pytest.raises(NotFound) as refused:
        hooks.deliver("stripe", event, org="org_unknown", secret="whsec_hooks")
    assert refused.value.field == "org_id" and "no Stripe webhook is set up for organization org_unknown" in refused.value.message
    assert hooks.queued() == 0 and hooks.entries("SYSTEM_EVENT", org="org_unknown") == []


def test_a_stale_stripe_signature_is_refused_and_recorded(hooks):
    import time

    with pytest.raises(BadRequest) as refused:
        hooks.deliver("stripe", provider_event("stripe", "evt_old", "charge.succeeded"), timestamp=int(time.time()) - 600)
    assert refused.value.message == "signature timestamp older than 300 s"
    assert [e["event"] for e in hooks.entries("SYSTEM_EVENT")] == ["Webhook rejected · Stripe: signature timestamp older than 300 s"]


def test_a_rotated_secret_is_used_at_once_not_after_the_cache_expires(hooks):
    hooks.deliver("square", provider_event("square", "sq_before", "payment.updated"))  # caches the old key
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=f"{SECRETS_PATH}/{ORG}/square", Value="sq_key_rotated", Type="SecureString", Overwrite=True)
    hooks.secrets[(ORG, "square")] = "sq_key_rotated"
    assert hooks.deliver("square", provider_event("square", "sq_after", "payment.updated"))["received"] is True


def test_a_non_ascii_stripe_signature_is_a_400_and_a_rejection_entry_not_a_500(hooks):
    event = provider_event("stripe", "evt_odd_header", "charge.succeeded")
    url = f"https://hooks.example.com/webhooks/stripe/{ORG}"
    body, headers = signed_delivery("stripe", "whsec_hooks", event, url)
    with pytest.raises(BadRequest) as refused:
        hooks.receiver.receive("stripe", ORG, body, {**headers, "stripe-signature": headers["stripe-signature"] + "ü"}, url, "203.0.113.7")
    assert (refused.value.message, refused.value.field) == ("malformed stripe-signature header", "stripe-signature")
    assert hooks.queued() == 0
    assert [e["event"] for e in hooks.entries("SYSTEM_EVENT")] == ["Webhook rejected · Stripe: malformed stripe-signature header"]


def _delivered_apart(hooks, provider: str, event: dict, times: list[datetime]) -> list[dict]:
    """``event`` delivered once per arrival time; then the ingest takes each delivery at once, from its own thread."""
    clock = hooks.receiver.clock
    try:
        for arrival in times:
            hooks.receiver.clock = lambda arrival=arrival: arrival
            hooks.deliver(provider, event)
    finally:
        hooks.receiver.clock = clock
    messages = hooks.sqs.receive_message(QueueUrl=hooks.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    assert len(messages) == len(times)
    start = threading.Barrier(len(messages))

    def ingest(message: dict) -> dict:
        start.wait()
        return hooks.ingest.handle({"Records": [sqs_record(message)]}, None)

    with ThreadPoolExecutor(len(messages)) as pool:
        return list(pool.map(ingest, messages))


def test_a_fedex_push_without_a_zoned_time_delivered_twice_is_one_entry(hooks):
    event = provider_event("fedex", "unused", "IT", tracking_number="612345678902")
    event["eventCreateTime"] = event["trackResults"][0]["scanEvents"][0]["date"] = "2026-11-26T09:15:00"  # no zone: unreadable
    answers = _delivered_apart(hooks, "fedex", event, [NOW - timedelta(seconds=50), NOW - timedelta(seconds=10)])
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    (entry,) = hooks.entries()
    assert entry["event"] == "IT · In transit"


def test_a_stripe_event_created_five_minutes_ahead_delivered_twice_is_one_entry(hooks):
    now = datetime.now(timezone.utc)
    event = provider_event("stripe", "evt_ahead", "charge.succeeded", now + timedelta(minutes=5))  # the provider's clock ahead
    answers = _delivered_apart(hooks, "stripe", event, [now - timedelta(seconds=90), now - timedelta(seconds=87), now - timedelta(seconds=5)])
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert len(hooks.entries()) == 1
    hooks.deliver("stripe", event)  # and once more later, alone
    hooks.drain()
    assert len(hooks.entries()) == 1


def test_deliveries_of_one_event_straddling_a_change_of_the_orgs_shard_count_are_one_entry(hooks):
    from activitylog import keys
    from activitylog.ids import derived_id
    from activitylog.webhooks.mapping import entry_document, redacted_request
    from activitylog.webhooks.providers import PROVIDERS

    when = (NOW - timedelta(minutes=2)).replace(microsecond=0)  # Stripe's created: whole seconds
    event_id = next(f"evt_shards_{n}" for n in range(100)
                    if len({keys.shard_of(derived_id(when, f"stripe:evt_shards_{n}"), s) for s in (2, 5)}) == 2)
    event = provider_event("stripe", event_id, "charge.succeeded", when)
    body = json.dumps(event).encode()
    _, identity = PROVIDERS["stripe"].identity(body)
    before, after = hooks.service, service_for(hooks.service.config.table_name, 5, "details")  # containers before and after the change
    start = threading.Barrier(8)

    def record(n: int):
        entry = NewEntry.model_validate(entry_document(PROVIDERS["stripe"], event, identity, redacted_request({}, body, "https://x"),
                                                       datetime.now(timezone.utc)))
        start.wait()
        return (before if n % 2 else after).record_events(ORG, [entry], recorded_by="webhooks")

    with ThreadPoolExecutor(8) as pool:
        results = [r for answer in pool.map(record, range(8)) for r in answer]
    assert sorted(recorded for _, recorded in results) == [False] * 7 + [True]
    assert len({entry_id for entry_id, _ in results}) == 1  # each duplicate names the entry that records the event
    assert len(after.list(READER, parse_list_request({"type": "WEBHOOK", "from": (NOW - timedelta(days=1)).isoformat()})).items) == 1


def test_a_large_delivery_received_again_after_it_was_recorded_is_a_success_not_a_dead_letter(hooks):
    notes = "".join(f"line {n:06d} of a very long order note\n" for n in range(9000))  # ~370 KB: offloaded to S3
    hooks.deliver("stripe", provider_event("stripe", "evt_big_again", "charge.succeeded", NOW - timedelta(minutes=1), metadata={"notes": notes}))
    (message,) = hooks.sqs.receive_message(QueueUrl=hooks.queue_url, VisibilityTimeout=0)["Messages"]
    assert hooks.ingest.handle({"Records": [sqs_record(message)]}, None) == {"batchItemFailures": []}
    assert hooks.s3.list_objects_v2(Bucket="details").get("Contents") is None  # its body is gone once it is recorded
    # SQS delivers the message again (its deletion failed, or the function timed out after the write), or a redrive does.
    assert hooks.ingest.handle({"Records": [sqs_record(message)]}, None) == {"batchItemFailures": []}
    assert len(hooks.entries()) == 1
    # A pointer whose body is gone and whose event was never recorded still fails: it is not silently dropped.
    lost = {**message, "Body": json.dumps(json.loads(message["Body"]) | {"event_id": "evt_never_recorded"})}
    assert len(hooks.ingest.handle({"Records": [sqs_record(lost)]}, None)["batchItemFailures"]) == 1



def test_an_events_marker_reaches_no_stream_consumer_and_is_no_entry(hooks, dynamodb_client, activity_table):
    from moto.events.models import EventPattern

    from samlocal.template import load, resources

    from .streams import TableStream

    hooks.deliver("stripe", provider_event("stripe", "evt_streamed", "charge.succeeded", NOW - timedelta(minutes=1)))
    hooks.drain()
    records = TableStream(dynamodb_client, activity_table).records()
    markers = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"].startswith("event#")]
    entries = [r for r in records if "ty" in r["dynamodb"]["NewImage"]]
    assert len(markers) == 1 and len(entries) == 1
    consumers = {name: event["Properties"].get("FilterCriteria", {}).get("Filters", [])
                 for name, function in resources(load(), "AWS::Serverless::Function").items()
                 for event in function["Properties"].get("Events", {}).values() if event["Type"] == "DynamoDB"}
    assert consumers and all(filters for filters in consumers.values())  # every stream consumer filters what it takes
    for name, filters in consumers.items():
        assert not any(EventPattern.load(f["Pattern"]).matches_event(markers[0]) for f in filters), name
    assert hooks.service.store.entry_from_image(markers[0]["dynamodb"]["NewImage"]) is None
    assert hooks.service.store.entry_from_image(entries[0]["dynamodb"]["NewImage"])[1].source["event_id"] == "evt_streamed"
