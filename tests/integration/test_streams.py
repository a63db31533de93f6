"""Streams (issue 22, item 1) against DynamoDB Local and moto: ``/settings/streams`` through the settings function,
the fan-out fed from the table's real stream, and delivery to a real HTTP receiver on 127.0.0.1 that verifies the
Standard Webhooks signature with the library."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from activitylog import wiring
from activitylog.query.filters import matches, parse_list_request, parse_stream_filter
from activitylog.streams.delivery import Fanout, backoff_seconds
from tests.integration.api_events import api_event, claims
from tests.integration.streams import StreamsWorld as World
from tests.integration.streams import TableStream
from tests.integration.streams import public_resolver as _public
from tests.support.api import READER, WRITER, entry, job
from tests.support.faults import MOTO
from tests.support.streams import SECRET, Receiver

OTHER_ADMIN = claims(org="org_globex", sub="u_boss", scope="activity:admin", name="Sam Boss")


def _private(host: str, port: int = 443, *args, **kwargs):
    return [(2, 1, 6, "", ("10.0.0.7", port))]


@pytest.fixture
def world(api, activity_table, dynamodb_client, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("RETENTION_CACHE_SECONDS", "0")
    with mock_aws(config=MOTO):
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="streams.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="streams@acme.example")
        monkeypatch.setenv("STREAM_QUEUE_URL", url)
        s3 = boto3.client("s3", region_name="us-east-1")  # large entries' details
        s3.create_bucket(Bucket="stream-details")
        s3.put_bucket_versioning(Bucket="stream-details", VersioningConfiguration={"Status": "Enabled"})
        monkeypatch.setenv("DETAIL_BUCKET", "stream-details")
        monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "1")
        wiring.reset()
        wiring.container().stream_settings.resolve = _public
        yield World(api, TableStream(dynamodb_client, activity_table), url)
        wiring.reset()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _system_events(world, token=READER):
    return world.api.list(type="SYSTEM_EVENT", token=token).body["items"]


# -- settings ------------------------------------------------------------------------------------


def test_a_stream_is_created_read_changed_and_deleted_each_change_a_system_event_without_its_secret(world, receiver):
    created = world.create(receiver.url, filter={"status": ["FAILED", "WARNING"]}, format="native")
    assert (created["status"], created["secret"], created["filter"]) == ("ACTIVE", "set", {"status": ["WARNING", "FAILED"]})
    assert created["destination"]["kind"] == "https" and created["state"]["lag_seconds"] == 0
    assert world.call("GET", f"/settings/streams/{created['id']}").body["name"] == "SIEM"
    assert [s["id"] for s in world.call("GET", "/settings/streams").body["items"]] == [created["id"]]

    changed = world.call("PATCH", f"/settings/streams/{created['id']}", {"name": "Splunk SIEM", "secret": SECRET + "x"})
    assert changed.status == 200 and changed.body["name"] == "Splunk SIEM"
    assert world.call("POST", f"/settings/streams/{created['id']}/pause").body["status"] == "PAUSED"
    assert world.call("POST", f"/settings/streams/{created['id']}/resume").body["status"] == "ACTIVE"
    assert world.call("DELETE", f"/settings/streams/{created['id']}").status == 200
    assert world.call("GET", f"/settings/streams/{created['id']}").status == 404

    events = _system_events(world)
    assert [e["action"] for e in events] == ["deleted", "resumed", "paused", "updated", "created"]
    assert all(e["entity"]["type"] == "integration" and e["entity"]["id"] == f"stream:{created['id']}" for e in events)
    details = [world.api.get(e["id"]).body for e in events]
    text = json.dumps(details)
    assert SECRET not in text  # never the secret: only that one is set, or changed
    update = next(d for d in details if d["action"] == "updated")
    assert update["changes"]["/secret"] == {"before": "set", "after": "changed"}
    assert update["changes"]["/name"] == {"before": "SIEM", "after": "Splunk SIEM"}


def test_a_bucket_streams_external_id_is_the_services_own_per_org_never_one_the_admin_chooses(world):
    # An org that could choose the external id could name another org's role with that org's id (the confused deputy)
    bucket = {"kind": "s3", "bucket": "customer-siem", "role_arn": "arn:aws:iam::210987654321:role/activitylog-stream"}
    chosen = world.call("POST", "/settings/streams", {"name": "Bucket", "destination": {**bucket, "external_id": "activitylog-org_other"}})
    assert (chosen.status, chosen.field) == (400, "destination.external_id"), chosen

    created = world.call("POST", "/settings/streams", {"name": "Bucket", "destination": bucket})
    assert created.status == 201, created
    assert created.body["destination"]["external_id"] == "activitylog-org_acme"  # shown, for the role's trust policy
    changed = world.call("PATCH", f"/settings/streams/{created.body['id']}", {"destination": {**bucket, "external_id": "x-y"}})
    assert (changed.status, changed.field) == (400, "destination.external_id"), changed


def test_the_secret_is_in_secrets_manager_under_the_service_key_name_and_never_in_the_table(world, receiver, dynamodb_client):
    created = world.create(receiver.url)
    stored = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
        SecretId=f"activitylog/streams/org_acme/{created['id']}")
    assert stored["SecretString"] == SECRET
    items = dynamodb_client.scan(TableName=world.stream.table)["Items"]
    assert SECRET not in repr(items)
    world.call("DELETE", f"/settings/streams/{created['id']}")
    with pytest.raises(Exception, match="ResourceNotFound"):
        boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
            SecretId=f"activitylog/streams/org_acme/{created['id']}")


@pytest.mark.parametrize("body, field", [
    ({"destination": {"kind": "https", "url": "https://siem.acme.example/in"}, "secret": SECRET}, "name"),
    ({"name": "x", "destination": {"kind": "ftp"}, "secret": SECRET}, "destination.kind"),
    ({"name": "x", "destination": {"kind": "https", "url": "https://siem.acme.example/in"}}, "secret"),
    ({"name": "x", "destination": {"kind": "https", "url": "https://siem.acme.example/in"}, "secret": SECRET,
      "filter": {"status": ["BROKEN"]}}, "filter.status"),
    ({"name": "x", "destination": {"kind": "https", "url": "https://siem.acme.example/in"}, "secret": SECRET,
      "filter": {"from": "2026-01-01T00:00:00Z"}}, "filter.from"),
    ({"name": "x", "destination": {"kind": "https", "url": "https://siem.acme.example/in"}, "secret": SECRET,
      "format": "xml"}, "format"),
    ({"name": "x", "destination": {"kind": "https", "url": "https://siem.acme.example/in"}, "secret": SECRET,
      "backfill_days": 0}, "backfill_days"),
    ({"name": "x", "destination": {"kind": "https", "url": "https://siem.acme.example/in"}, "secret": SECRET,
      "colour": "red"}, "colour"),
])
def test_a_bad_stream_is_a_400_naming_the_field_and_nothing_is_written(world, body, field):
    reply = world.call("POST", "/settings/streams", body)
    assert (reply.status, reply.field) == (400, field), reply
    assert world.call("GET", "/settings/streams").body["items"] == []
    assert _system_events(world) == []


@pytest.mark.parametrize("url, resolve", [
    ("http://127.0.0.1:9/hook", _public),  # loopback: refused with the flag off
    ("https://169.254.169.254/latest/meta-data", _public),
    ("https://10.1.2.3/hook", _public),
    ("https://siem.internal.example/hook", _private),  # a name resolving to a private address (stubbed DNS)
])
def test_an_ssrf_url_is_refused_at_save_with_the_flag_off(world, monkeypatch, url, resolve):
    monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "")
    wiring.reset()
    wiring.container().stream_settings.resolve = resolve
    reply = world.call("POST", "/settings/streams", {"name": "x", "destination": {"kind": "https", "url": url}, "secret": SECRET})
    assert (reply.status, reply.field) == (400, "destination.url"), reply
    assert world.call("GET", "/settings/streams").body["items"] == []


def test_only_an_admin_may_touch_streams_and_another_orgs_stream_is_a_404(world, receiver):
    created = world.create(receiver.url)
    path = f"/settings/streams/{created['id']}"
    for token in (READER, WRITER):
        assert world.call("GET", "/settings/streams", token=token).status == 403
    assert world.call("GET", "/settings/streams", token=OTHER_ADMIN).body["items"] == []
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"name": "mine"}), ("DELETE", "", None),
                                 ("POST", "/pause", None), ("POST", "/resume", None), ("POST", "/test", None),
                                 ("POST", "/backfill", {"days": 1})):
        reply = world.call(method, path + suffix, body, token=OTHER_ADMIN)
        assert reply.status == 404, (method, suffix, reply)
    assert receiver.requests == 0
    assert world.call("GET", path).body["status"] == "ACTIVE"


def test_test_sends_a_sample_and_answers_what_the_endpoint_said(world, receiver):
    created = world.create(receiver.url)
    reply = world.call("POST", f"/settings/streams/{created['id']}/test")
    assert reply.body["ok"] is True and reply.body["status"] == 200, reply
    assert len(receiver.events) == 1  # verified with the library by the receiver
    receiver.status = 500
    reply = world.call("POST", f"/settings/streams/{created['id']}/test")
    assert (reply.body["ok"], reply.body["status"]) == (False, 500)
    assert "maintenance" in reply.body["detail"]


# -- the filter: the list's own semantics ----------------------------------------------------------


FILTERS = [
    {"type": ["BACKGROUND_JOB"]},
    {"status": ["FAILED", "WARNING"]},
    {"user": ["u_17"]},
    {"entity_type": ["contact"]},
    {"entity_type": ["contact"], "entity_id": ["c_1"]},
    {"type": ["USER_ACTION", "BACKGROUND_JOB"], "status": ["SUCCESS"]},
    {"trace_id": ["4bf92f3577b34da6a3ce929d0e0e4736"]},
    {"trace_id": ["4bf92f3577b34da6a3ce929d0e0e4736"], "status": ["FAILED"]},
    {},
]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_stream_filter_matches_exactly_what_the_list_answers(world):
    bodies = [
        entry(), entry(entity={"type": "contact", "id": "c_1", "label": "A"}),
        entry(actor={"kind": "user", "id": "u_18", "name": "B"}, status="FAILED", error={"message": "no"}),
        entry(actor={"kind": "external", "id": "u_17", "name": "key u_17"}),
        entry(entity={"type": "product", "id": "p_1", "label": "P"}, status="WARNING"),
        job(), {**job(), "status": "FAILED", "error": {"message": "boom"}},
    ]
    for body in bodies:
        assert world.api.record(body).status == 201
    for body in (entry(), entry(status="FAILED", error={"message": "traced"})):  # written under one W3C trace
        reply = world.api.call("POST", "/activities", raw=api_event("POST", "/activities", body=body, claims=WRITER,
                                                                    headers={"traceparent": TRACEPARENT}))
        assert reply.status == 201 and reply.body["trace_id"] == TRACEPARENT.split("-")[1], reply
    every = {e["id"]: e for e in world.api.list(limit=200).body["items"]}
    stored = {entry_id: wiring.container().service.stored("org_acme", entry_id) for entry_id in every}
    for saved in FILTERS:
        query = {key: ",".join(values) for key, values in saved.items()}
        listed = set(world.api.ids(**query))
        wanted = parse_stream_filter(saved)[1]
        assert wanted == parse_list_request(query).filter
        assert {entry_id for entry_id, e in stored.items() if matches(wanted, e)} == listed, saved


# -- fan-out and delivery --------------------------------------------------------------------------


def test_entries_reach_a_real_receiver_in_id_order_and_the_filter_is_honoured(world, receiver):
    created = world.create(receiver.url, filter={"type": ["USER_ACTION"]})
    recorded = [world.api.record(entry(event=f"Contact updated · {n}")).body["id"] for n in range(5)]
    world.api.record(job())  # not in the filter
    fanned = world.fan_out()
    assert fanned == {"waiting": 5, "doorbells": 1}
    state = world.call("GET", f"/settings/streams/{created['id']}").body["state"]
    assert state["lag_seconds"] >= 0 and state["last_delivery"] is None
    assert world.ring_all(world.delivery()) == [{"delivered": 5}]
    assert [event["id"] for event in receiver.events] == sorted(recorded)
    assert all("event_id" in event for event in receiver.events)
    state = world.call("GET", f"/settings/streams/{created['id']}").body["state"]
    assert state["last_delivery"]["events"] == 5 and state["last_delivery"]["status"] == 200 and state["lag_seconds"] == 0


def test_a_failing_endpoint_is_retried_with_backoff_then_paused_after_24_hours_with_a_warning_and_an_email(world, receiver):
    created = world.create(receiver.url, filter={"type": ["USER_ACTION"]})
    receiver.status = 500
    first = world.api.record(entry()).body["id"]
    world.fan_out()
    delivery = world.delivery()
    (failure,) = world.ring_all(delivery)
    assert "500" in str(failure)
    state = world.call("GET", f"/settings/streams/{created['id']}").body["state"]
    assert state["last_error"]["status"] == 500 and "maintenance" in state["last_error"]["detail"]
    assert state["failing_since"] is not None and state["status"] == "ACTIVE"
    assert [backoff_seconds(n) for n in (1, 2, 3, 7, 8, 30)] == [10, 30, 60, 3600, 3600, 3600]

    world.clock += timedelta(hours=23, minutes=59)  # still within 24 h: retried, not paused
    with pytest.raises(Exception, match="500"):
        delivery.ring({"org": "org_acme", "stream": created["id"]})
    world.clock += timedelta(minutes=1)
    from activitylog.streams.delivery import Paused

    with pytest.raises(Paused):
        delivery.ring({"org": "org_acme", "stream": created["id"]})
    stream = world.call("GET", f"/settings/streams/{created['id']}").body
    assert stream["status"] == "PAUSED" and "500" in stream["paused_reason"]
    (warning,) = [e for e in _system_events(world) if e["status"] == "WARNING"]
    assert warning["event"].startswith("Stream “SIEM” paused after 24 h of failed deliveries: 500")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert [m.destinations["ToAddresses"] for m in sent] == [["morgan@acme.example"]]
    # A paused stream's doorbells are consumed without sending; its entries keep waiting.
    second = world.api.record(entry()).body["id"]
    world.fan_out()
    requests = receiver.requests
    # (the fan-out may still ring while its cached settings say ACTIVE, up to 30 s: the doorbell is consumed)
    assert all(o == {"delivered": 0, "skipped": "paused"} for o in world.ring_all(delivery))
    assert delivery.ring({"org": "org_acme", "stream": created["id"]}) == {"delivered": 0, "skipped": "paused"}
    assert receiver.requests == requests
    # Resume delivers what waited, in order.
    receiver.status = 200
    assert world.call("POST", f"/settings/streams/{created['id']}/resume").body["status"] == "ACTIVE"
    assert world.ring_all(delivery) == [{"delivered": 2}]
    assert [e["id"] for e in receiver.events] == [first, second] and receiver.requests == requests + 1
    assert world.call("GET", f"/settings/streams/{created['id']}").body["state"]["failing_since"] is None


def test_one_failing_destination_does_not_hold_another(world, receiver):
    broken = Receiver()
    try:
        good = world.create(receiver.url, name="good", filter={"type": ["USER_ACTION"]})
        bad = world.create(broken.url, name="bad", filter={"type": ["USER_ACTION"]})
        broken.status = 500
        world.api.record(entry())
        world.fan_out()
        outcomes = world.ring_all(world.delivery())
        assert {"delivered": 1} in outcomes and any("500" in str(o) for o in outcomes)
        assert len(receiver.events) == 1
        states = {s["name"]: s["state"] for s in world.call("GET", "/settings/streams").body["items"]}
        assert states["good"]["last_delivery"]["events"] == 1 and states["bad"]["last_error"]["status"] == 500
        assert good["id"] != bad["id"]
    finally:
        broken.close()


def test_backfill_sends_the_last_days_entries_in_the_filter_in_id_order(world, receiver):
    old = [world.api.record(entry(event=f"old {n}")).body["id"] for n in range(7)]
    world.api.record(job())
    world.fan_out()  # no stream yet: nothing waits
    import activitylog.streams.delivery as delivery_module

    delivery_module.BACKFILL_PAGE = 3  # several pages, each ringing for the next
    try:
        created = world.create(receiver.url, filter={"type": ["USER_ACTION"]}, backfill_days=1)
        for _ in range(5):
            world.ring_all(world.delivery())
    finally:
        delivery_module.BACKFILL_PAGE = 200
    assert [e["id"] for e in receiver.events] == sorted(old)
    backfill = world.call("GET", f"/settings/streams/{created['id']}").body["state"]["backfill"]
    assert backfill["state"] == "done" and backfill["entries"] == 7


def test_backfill_on_demand_sends_the_window_again_and_is_recorded(world, receiver):
    created = world.create(receiver.url, filter={"type": ["USER_ACTION"]})
    path = f"/settings/streams/{created['id']}/backfill"
    assert world.call("POST", path, {"days": 0}).field == "days"
    assert world.call("POST", path, {}).field == "days"
    recorded = [world.api.record(entry()).body["id"] for _ in range(3)]
    reply = world.call("POST", path, {"days": 2})
    assert reply.status == 202 and reply.body["state"]["backfill"]["state"] == "running"
    world.fan_out()  # the live doorbells wait while the backfill gathers the older entries
    for _ in range(3):
        world.ring_all(world.delivery())
    assert [e["id"] for e in receiver.events] == sorted(recorded)  # each once: a waiting entry is keyed by its id
    assert any(e["action"] == "backfill_requested" for e in _system_events(world))


@pytest.mark.parametrize("fmt", ["ocsf", "cloudevents"])
def test_a_stream_delivers_in_its_format_with_the_org_named(world, receiver, fmt):
    world.create(receiver.url, filter={"type": ["USER_ACTION"]}, format=fmt)
    recorded = world.api.record(entry()).body["id"]
    world.fan_out()
    assert world.ring_all(world.delivery()) == [{"delivered": 1}]
    (event,) = receiver.events
    if fmt == "cloudevents":
        assert event["specversion"] == "1.0" and "org_acme" in event["source"] and recorded in json.dumps(event)
    else:
        assert event["metadata"]["tenant_uid"] == "org_acme" and recorded in json.dumps(event)


def test_a_delivery_near_its_deadline_hands_the_rest_to_the_lanes_next_doorbell_in_order(world, receiver, monkeypatch):
    import activitylog.streams.delivery as delivery_module

    world.create(receiver.url, filter={"type": ["USER_ACTION"]})
    recorded = [world.api.record(entry(event=f"n {n}")).body["id"] for n in range(5)]
    world.fan_out()
    monkeypatch.setattr(delivery_module, "WAITING_PAGE", 2)
    delivery = world.delivery()
    (doorbell,) = world.doorbells()
    assert delivery.ring(doorbell, deadline=0.0) == {"delivered": 2, "more": True}  # past its deadline after a page
    assert world.ring_all(delivery) == [{"delivered": 3}]
    assert [e["id"] for e in receiver.events] == sorted(recorded)


def test_a_large_entry_waits_by_its_id_and_is_read_whole_when_sent(world, receiver, monkeypatch):
    import os

    from activitylog.store import streams as stored

    world.create(receiver.url, filter={"type": ["USER_ACTION"]})
    big = world.api.record(entry(metadata={"blob": os.urandom(200_000).hex()})).body["id"]  # 400 kB of hex: ~200 kB zlib'd
    small = world.api.record(entry()).body["id"]
    monkeypatch.setattr(stored, "WAITING_DOC_BYTES", 100_000)
    world.fan_out()
    assert [document is None for _, document in wiring.container().service.store.waiting("org_acme", world.call(
        "GET", "/settings/streams").body["items"][0]["id"], 10)] == [True, False]
    assert world.ring_all(world.delivery()) == [{"delivered": 2}]
    assert [e["id"] for e in receiver.events] == [big, small]
    assert len(receiver.events[0]["metadata"]["blob"]) == 400_000


def test_a_change_that_loses_a_race_writes_neither_the_stream_its_entry_nor_its_secret(world, receiver, monkeypatch):
    created = world.create(receiver.url)
    path = f"/settings/streams/{created['id']}"
    settings = wiring.container().stream_settings
    stale = settings._stream("org_acme", created["id"])  # what the slower request read, before the other change
    assert world.call("PATCH", path, {"name": "first"}).status == 200
    monkeypatch.setattr(settings, "_stream", lambda org, stream_id: stale)  # it decides on what it read
    reply = world.call("PATCH", path, {"name": "second", "secret": SECRET + "new"})
    assert (reply.status, reply.field) == (409, "id"), reply
    monkeypatch.undo()
    assert world.call("GET", path).body["name"] == "first"
    assert [e["action"] for e in _system_events(world)] == ["updated", "created"]
    secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
        SecretId=f"activitylog/streams/org_acme/{created['id']}")["SecretString"]
    assert secret == SECRET  # put back: the change did not happen


def test_a_backfill_whose_doorbell_was_lost_stops_holding_the_lane_after_15_minutes(world, receiver):
    created = world.create(receiver.url, filter={"type": ["USER_ACTION"]}, backfill_days=1)
    world.doorbells()  # the backfill's doorbell, lost
    recorded = world.api.record(entry()).body["id"]
    world.fan_out()
    delivery = world.delivery()
    assert world.ring_all(delivery) == [{"delivered": 0, "backfill": "running"}]
    world.clock += timedelta(minutes=16)
    assert delivery.ring({"org": "org_acme", "stream": created["id"]}) == {"delivered": 1}
    assert [e["id"] for e in receiver.events] == [recorded]
