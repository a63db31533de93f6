"""Streams end to end through the session's stack (``activitylog serve --allow-loopback-streams``): the settings function,
the fan-out from the table's stream, the FIFO lanes and the delivery function in their execution environments, to a
real HTTP receiver started here that verifies each request's Standard Webhooks signature with the library.

The 24 hours before a failing stream pauses are driven by the clock of the failure: the test moves the stream's
``failing_since`` a day back in the table, as if its endpoint had been failing since yesterday.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from tests.support.stack import wait_for
from tests.support.streams import SECRET, Receiver

ORG, OTHER = "org_streams", "org_other"


@pytest.fixture(scope="module")
def stack(api_stack):
    """The session's stack (a stack of this module's own cost make test ~30 s): its orgs here are this module's."""
    return api_stack


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def admin(stack, org=ORG):
    return stack.token(org, "u_admin", name="Morgan Admin", scopes=("admin",))


def writer(stack, org=ORG):
    return stack.token(org, "svc_e2e", scopes=("write", "read"))


def create(stack, url, org=ORG, **fields) -> dict:
    body = {"name": "SIEM", "destination": {"kind": "https", "url": url}, "secret": SECRET,
            "filter": {"type": ["USER_ACTION"]}, "notify_email": f"admin@{org}.example", **fields}
    status, stream = stack.request("POST", "/settings/streams", admin(stack, org), body)
    assert status == 201, stream
    return stream


def record(stack, n: int, org=ORG, label="e2e") -> list[str]:
    ids = []
    for i in range(n):
        status, entry = stack.request("POST", "/activities", writer(stack, org), {
            "type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": f"Contact updated · {label} {i}",
            "actor": {"kind": "user", "id": "u_17", "name": "Riley Park"},
            "entity": {"type": "contact", "id": f"c_{i}", "label": f"Contact {i}"}})
        assert status == 201, entry
        ids.append(entry["id"])
    return ids


def stream_of(stack, stream_id, org=ORG) -> dict:
    status, stream = stack.request("GET", f"/settings/streams/{stream_id}", admin(stack, org))
    assert status == 200, stream
    return stream


def test_entries_reach_a_real_receiver_in_id_order_through_the_filter(stack, receiver):
    stream = create(stack, receiver.url)
    ids = record(stack, 6)
    stack.request("POST", "/activities", writer(stack), {  # a job: not in the stream's filter
        "type": "BACKGROUND_JOB", "status": "SUCCESS", "action": "synced", "event": "Sync",
        "actor": {"kind": "system", "id": "system", "name": "system"}})
    wait_for(lambda: len(receiver.events) >= 6, timeout=30)
    time.sleep(1)
    assert [event["id"] for event in receiver.events] == ids  # verified by the library, each once, in id order
    state = wait_for(lambda: (lambda s: s if s["last_delivery"] else None)(stream_of(stack, stream["id"])["state"]))
    assert state["last_delivery"]["status"] == 200 and state["lag_seconds"] == 0 and state["last_error"] is None
    status, tested = stack.request("POST", f"/settings/streams/{stream['id']}/test", admin(stack))
    assert (status, tested["ok"], tested["status"]) == (200, True, 200)
    stack.request("DELETE", f"/settings/streams/{stream['id']}", admin(stack))


def test_a_failing_endpoint_is_retried_then_paused_with_a_warning_and_an_email_and_resume_delivers_what_waited(stack, receiver):
    org = "org_failing"
    stream = create(stack, receiver.url, org=org)
    receiver.status = 500
    first = record(stack, 2, org=org, label="before")
    failing = wait_for(lambda: stream_of(stack, stream["id"], org)["state"]["last_error"], timeout=30)
    assert failing["status"] == 500 and "maintenance" in failing["detail"]
    assert stream_of(stack, stream["id"], org)["status"] == "ACTIVE" and receiver.events == []
    # Failing since yesterday: the next retry (10 s after the first failure) pauses the stream.
    _, described = stack.request("GET", "/_local/stack")
    table = boto3.client("dynamodb", endpoint_url=described["dynamodb"], region_name="us-east-1",
                         aws_access_key_id="local", aws_secret_access_key="local")
    yesterday = int((datetime.now(timezone.utc) - timedelta(hours=24, minutes=1)).timestamp() * 1000)
    table.update_item(TableName=described["tables"]["ActivityTable"],
                      Key={"pk": {"S": f"{org}#meta"}, "sk": {"S": f"streamstate#{stream['id']}"}},
                      UpdateExpression="SET fs = :yesterday", ExpressionAttributeValues={":yesterday": {"N": str(yesterday)}})
    paused = wait_for(lambda: (lambda s: s if s["status"] == "PAUSED" else None)(stream_of(stack, stream["id"], org)), timeout=60)
    assert "500" in paused["paused_reason"]
    _, listed = stack.request("GET", "/activities?type=SYSTEM_EVENT&status=WARNING", stack.token(org, "u_r", scopes=("read",)))
    (warning,) = listed["items"]
    assert warning["event"].startswith("Stream “SIEM” paused after 24 h of failed deliveries: 500")
    _, outbox = stack.request("GET", "/_local/outbox")
    mails = [m for m in outbox["messages"] if m["to"] == f"admin@{org}.example"]
    assert len(mails) == 1 and "paused" in mails[0]["subject"]
    later = record(stack, 2, org=org, label="while paused")
    time.sleep(2)
    assert receiver.events == []
    receiver.status = 200
    status, resumed = stack.request("POST", f"/settings/streams/{stream['id']}/resume", admin(stack, org))
    assert (status, resumed["status"]) == (200, "ACTIVE")
    wait_for(lambda: len(receiver.events) >= 4, timeout=30)
    assert [e["id"] for e in receiver.events] == first + later  # what waited, in order


def test_one_failing_destination_does_not_delay_another(stack, receiver):
    org = "org_lanes"
    broken = Receiver()
    try:
        broken.status = 500
        bad = create(stack, broken.url, org=org, name="bad")
        create(stack, receiver.url, org=org, name="good")
        wait_for(lambda: True)
        for round_ in range(3):  # the bad lane is failing and backing off the whole time
            ids = record(stack, 2, org=org, label=f"round {round_}")
            started = time.monotonic()
            wait_for(lambda: {e["id"] for e in receiver.events} >= set(ids), timeout=15)
            assert time.monotonic() - started < 10
        assert broken.requests >= 1 and broken.events == []
        assert stream_of(stack, bad["id"], org)["state"]["last_error"]["status"] == 500
    finally:
        broken.close()


def test_backfill_sends_the_last_days_entries_in_id_order(stack, receiver):
    org = "org_backfill"
    earlier = record(stack, 5, org=org, label="earlier")
    stream = create(stack, receiver.url, org=org, backfill_days=1)
    wait_for(lambda: len(receiver.events) >= 5, timeout=30)
    assert [e["id"] for e in receiver.events] == earlier
    backfill = wait_for(lambda: (lambda b: b if b and b["state"] == "done" else None)(
        stream_of(stack, stream["id"], org)["state"]["backfill"]))
    assert backfill["entries"] == 5


def test_another_org_cannot_see_or_touch_a_stream(stack, receiver):
    stream = create(stack, receiver.url, org="org_owner")
    path = f"/settings/streams/{stream['id']}"
    stranger = admin(stack, OTHER)
    assert stack.request("GET", "/settings/streams", stranger)[1]["items"] == []
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"name": "mine"}), ("DELETE", "", None),
                                 ("POST", "/pause", None), ("POST", "/test", None), ("POST", "/backfill", {"days": 1})):
        assert stack.request(method, path + suffix, stranger, body)[0] == 404, (method, suffix)
    assert receiver.requests == 0 and stream_of(stack, stream["id"], "org_owner")["status"] == "ACTIVE"


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data", "https://10.0.0.1/hook",
                                 "https://192.168.1.10:8443/hook", "https://[fd00::1]/hook"])
def test_an_ssrf_url_is_refused_at_save_through_the_stack(stack, url):
    """Private and metadata addresses are refused even where the local flag admits loopback receivers (the session's
    stack); loopback itself without the flag, as in AWS: tests/integration/test_stream_destinations.py. No packet is sent."""
    token = stack.token("org_ssrf", "u_admin", scopes=("admin",))
    status, answer = stack.request("POST", "/settings/streams", token, {
        "name": "x", "destination": {"kind": "https", "url": url}, "secret": SECRET})
    assert (status, answer.get("field")) == (400, "destination.url"), answer
    assert stack.request("GET", "/settings/streams", token)[1]["items"] == []


def test_splunk_datadog_and_a_customers_bucket_each_get_their_documented_request_through_the_stack(stack):
    """The other three kinds, from the delivery function in its environment: HEC's events with `Authorization:
    Splunk …` (here in OCSF), Datadog's log array with `DD-API-KEY`, and gzip NDJSON in the customer's bucket (moto's)
    through the role assumed with the org's external id."""
    import gzip
    import json

    from tests.support.receiver import Receiver as HttpReceiver

    org = "org_kinds"
    state = json.loads((stack.data_dir / "stack.json").read_text())
    s3 = boto3.client("s3", endpoint_url=state["aws_endpoint"], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    s3.create_bucket(Bucket="customer-siem")
    with HttpReceiver((200, b'{"text":"Success","code":0}')) as hec, HttpReceiver((202, b"{}")) as intake:
        kinds = [
            ({"kind": "splunk", "url": hec.url(""), "index": "main", "sourcetype": "activitylog"}, "hec-token-0123456789", "ocsf"),
            ({"kind": "datadog", "url": intake.url("/api/v2/logs"), "service": "activitylog"}, "dd-api-key-0123456789", "native"),
            ({"kind": "s3", "bucket": "customer-siem", "role_arn": "arn:aws:iam::123456789012:role/activitylog-stream",
              "prefix": "activity"}, None, "cloudevents"),
        ]
        for destination, secret, fmt in kinds:
            body = {"name": destination["kind"], "destination": destination, "filter": {"type": ["USER_ACTION"]}, "format": fmt,
                    **({"secret": secret} if secret else {})}
            status, made = stack.request("POST", "/settings/streams", admin(stack, org), body)
            assert status == 201, made
        written = record(stack, 3, org=org, label="kinds")

        def hec_events():
            found = []
            for request in hec.requests:
                assert request.path == "/services/collector/event" and request.header("Authorization") == "Splunk hec-token-0123456789"
                text, decoder = request.body.decode(), json.JSONDecoder()
                while text.strip():
                    event, end = decoder.raw_decode(text.strip())
                    found.append(event)
                    text = text.strip()[end:]
            return found if len(found) >= 3 else None

        events = wait_for(hec_events, timeout=30)
        assert [(e["index"], e["sourcetype"], e["event"]["class_uid"]) for e in events] == [("main", "activitylog", 6003)] * 3
        assert [e["event"]["metadata"]["uid"].split(".")[0] for e in events] == written  # id order

        def datadog_logs():  # a delivery may come in more than one request: wait for all three
            found = [log for r in intake.requests for log in r.json()]
            return found if len(found) >= 3 else None

        logs = wait_for(datadog_logs, timeout=30)
        assert all(r.header("DD-API-KEY") == "dd-api-key-0123456789" for r in intake.requests)
        assert [json.loads(log["message"])["id"] for log in logs] == written and logs[0]["service"] == "activitylog"

    def bucket_lines():  # one object per delivery: wait for all three events
        listed = s3.list_objects_v2(Bucket="customer-siem", Prefix="activity/dt=").get("Contents") or []
        found = [json.loads(line) for o in sorted(listed, key=lambda o: o["Key"])
                 for line in gzip.decompress(s3.get_object(Bucket="customer-siem", Key=o["Key"])["Body"].read()).splitlines()]
        return (listed, found) if len(found) >= 3 else None

    listed, lines = wait_for(bucket_lines, timeout=30)
    assert [(event["specversion"], event["data"]["id"]) for event in lines] == [("1.0", entry_id) for entry_id in written]
    assert listed[0]["Key"].startswith(f"activity/dt={datetime.now(timezone.utc):%Y-%m-%d}/")
