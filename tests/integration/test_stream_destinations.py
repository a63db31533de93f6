"""A stream's destinations (activitylog.streams.destinations) against real receivers: an HTTP server a test runs on
127.0.0.1 (admitted with ``allow_loopback=True``, the local stack's flag) and moto's STS and S3.

The Standard Webhooks receiver verifies with the library's own ``Webhook.verify``; Splunk HEC and Datadog get
their documented request shapes, split at their real limits with generated payloads; a 500, a refused
connection, a timeout, a redirect and a DNS answer that changes after the check each come back as an
``Outcome``. Names resolve through a stub, and the ``loopback_only`` fixture fails a test that looks a name up
or opens a connection to anything but 127.0.0.1.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from standardwebhooks import Webhook

from activitylog.errors import BadRequest
from activitylog.streams import destinations as dest
from activitylog.streams.destinations import Outcome, check_config, destination
from tests.support.receiver import Receiver, tls_files

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
HEC_TOKEN = "5f6b1d7e-hec-token-never-logged"
DD_KEY = "dd0123456789abcdef-api-key-never-logged"
HOST = "siem.customer.test"


def resolving(*answers: str):
    """A stub resolver: HOST answers the next address of ``answers`` at each look-up (the last one repeats)."""
    asked: list[str] = []

    def resolve(host, port, *args, **kwargs):
        asked.append(host)
        address = answers[min(len(asked), len(answers)) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


LOCAL = resolving("127.0.0.1")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Connections only to loopback, and no real DNS look-up of a name: the addresses connected to are kept."""
    connected: list[tuple] = []
    real_getaddrinfo = socket.getaddrinfo

    class LoopbackOnly(socket.socket):
        def connect(self, address):
            connected.append(address)
            assert address[0].startswith("127.") or address[0] == "::1", f"a connection to {address}"
            return super().connect(address)

    def literal_only(host, *args, **kwargs):
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in str(host) else socket.AF_INET, str(host))
        except OSError:
            raise AssertionError(f"a real DNS look-up of {host!r}") from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", LoopbackOnly)
    monkeypatch.setattr(socket, "getaddrinfo", literal_only)
    return connected


def entries(n: int, size: int = 0, start: int = 0) -> list[dict]:
    """``n`` rendered native events, each about ``size`` bytes of JSON when ``size`` is given."""
    return [
        {
            "event_id": f"01JDQ7Z9K3M5N7P9R1T3V5{i:04d}.1",
            "id": f"01JDQ7Z9K3M5N7P9R1T3V5{i:04d}",
            "type": "USER_ACTION",
            "action": "updated",
            "occurred_at": "2026-11-26T12:00:00.000Z",
            "metadata": {"pad": "x" * size},
        }
        for i in range(start, start + n)
    ]


def hec_events(body: bytes) -> list[dict]:
    """HEC's batch: JSON objects one after another, as Splunk's own parser reads them."""
    decoder, text, at, found = json.JSONDecoder(), body.decode(), 0, []
    while at < len(text):
        event, at = decoder.raw_decode(text, at)
        found.append(event)
    return found


# --- https: Standard Webhooks --------------------------------------------------------------------------------


def test_an_https_delivery_verifies_with_the_standard_webhooks_library_and_goes_to_the_checked_address(loopback_only):
    resolve = resolving("127.0.0.1")
    with Receiver((204, b"")) as receiver:
        stream = destination(
            "https", {"url": receiver.url("/hooks/activity", host=HOST)}, SECRET, allow_loopback=True, resolve=resolve
        )
        events = entries(3)
        outcome = stream.send(events)
        again = stream.send(events)

    assert outcome == Outcome(True, 204, "", sent=3)
    assert again.ok
    first, second = receiver.requests
    assert first.path == "/hooks/activity" and first.header("Host") == f"{HOST}:{receiver.port}"
    assert Webhook(SECRET).verify(first.body, first.headers) == events  # the receiver's check, by the library
    assert first.header("Content-Type") == "application/json"
    assert first.header("webhook-id") == second.header("webhook-id")  # the same batch again: the same id to dedupe on
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(base64.b64encode(b"o" * 32).decode()).verify(first.body, first.headers)
    # Checked when made and before each send; connected to the address checked, never a look-up of the name.
    assert resolve.asked == [HOST, HOST]  # before each send (making the destination looks nothing up)
    assert {address[0] for address in loopback_only} == {"127.0.0.1"}


def test_a_500_answer_is_a_failed_outcome_with_what_the_receiver_said():
    with Receiver((500, "upstream SIEM is down " + "z" * 1000)) as receiver:
        outcome = destination("https", {"url": receiver.url("/in")}, SECRET, allow_loopback=True).send(entries(2))
    assert (outcome.ok, outcome.status, outcome.sent) == (False, 500, 0)
    assert outcome.detail.startswith("upstream SIEM is down") and len(outcome.detail) == dest.DETAIL_CHARS


def test_a_receiver_answering_megabytes_is_read_no_further_than_the_detail():
    import tracemalloc

    huge = b"x" * 30_000_000
    with Receiver(lambda request: (500, huge) if len(receiver.requests) == 1 else (200, "ok")) as receiver:
        stream = destination("https", {"url": receiver.url("/in")}, SECRET, allow_loopback=True)
        tracemalloc.start()
        outcome = stream.send(entries(1))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        after = stream.send(entries(1))  # the connection left half-read was closed, not reused
    assert (outcome.status, outcome.detail) == (500, "x" * dest.DETAIL_CHARS)
    assert peak < 3_000_000, f"{peak:,} bytes held while reading the answer"
    assert (after.ok, after.status, after.detail) == (True, 200, "ok")


def test_a_name_with_several_addresses_is_tried_address_by_address(loopback_only):
    """Nothing listens on 127.0.0.2: the next checked address (never a new look-up) takes the delivery."""
    asked = []

    def two_addresses(host, port, **kwargs):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in ("127.0.0.2", "127.0.0.1")]

    with Receiver((200, "ok")) as receiver:
        url = receiver.url("/in", host=HOST)
        outcome = destination("https", {"url": url}, SECRET, allow_loopback=True, resolve=two_addresses).send(
            entries(1)
        )
    assert outcome == Outcome(True, 200, "ok", sent=1) and len(receiver.requests) == 1
    assert [address[0] for address in loopback_only] == ["127.0.0.2", "127.0.0.1"]
    assert asked == [HOST]  # checked once, before the send


def test_a_refused_connection_has_no_status():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    outcome = destination("https", {"url": f"http://127.0.0.1:{port}/in"}, SECRET, allow_loopback=True).send(entries(1))
    assert (outcome.ok, outcome.status, outcome.sent) == (False, None, 0)
    assert "could not connect" in outcome.detail and "refused" in outcome.detail.lower()


def test_a_receiver_slower_than_the_read_timeout_has_no_status(monkeypatch):
    monkeypatch.setattr(dest, "TIMEOUT", dest.urllib3.Timeout(connect=5.0, read=0.3))

    def slow(request):
        time.sleep(1.0)
        return 200, "late"

    with Receiver(slow) as receiver:
        outcome = destination("https", {"url": receiver.url("/in")}, SECRET, allow_loopback=True).send(entries(1))
    assert (outcome.ok, outcome.status) == (False, None) and "ReadTimeout" in outcome.detail


def test_the_delivery_timeouts_are_5_s_to_connect_and_10_s_to_read():
    assert (dest.TIMEOUT.connect_timeout, dest.TIMEOUT.read_timeout) == (5.0, 10.0)


def test_a_redirect_is_not_followed(loopback_only):
    """A 3xx to the metadata endpoint is the receiver's answer, not a place to go."""

    to_metadata = (307, "", {"Location": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"})
    with Receiver(to_metadata) as receiver:
        outcome = destination("https", {"url": receiver.url("/in")}, SECRET, allow_loopback=True).send(entries(1))
    assert (outcome.ok, outcome.status) == (False, 307)
    assert len(receiver.requests) == 1 and {a[0] for a in loopback_only} == {"127.0.0.1"}


def test_a_name_that_resolves_elsewhere_at_send_time_is_refused_before_connecting(loopback_only):
    """DNS rebinding: the name passed the check when the stream was saved, then answers the metadata endpoint."""
    resolve = resolving("127.0.0.1", "127.0.0.1", "169.254.169.254")  # saved, first send, second send
    with Receiver() as receiver:
        saved = check_config("https", {"url": receiver.url("/in", host=HOST)}, allow_loopback=True, resolve=resolve)
        stream = destination("https", saved, SECRET, allow_loopback=True, resolve=resolve)
        assert stream.send(entries(1)).ok
        outcome = stream.send(entries(1, start=1))
    assert (outcome.ok, outcome.status, outcome.sent) == (False, None, 0)
    assert "refused before connecting" in outcome.detail and "169.254.169.254" in outcome.detail
    assert len(receiver.requests) == 1 and {address[0] for address in loopback_only} == {"127.0.0.1"}


def test_the_https_url_is_refused_at_save_without_the_local_flag():
    with pytest.raises(BadRequest) as refused:
        check_config("https", {"url": "http://127.0.0.1:8080/in"}, resolve=LOCAL)
    assert refused.value.field == "destination.url" and "loopback" in refused.value.message
    with pytest.raises(BadRequest) as refused:
        check_config("https", {"url": f"https://{HOST}/in"}, resolve=resolving("169.254.169.254"))
    assert refused.value.field == "destination.url" and "resolves to 169.254.169.254" in refused.value.message


def test_a_destination_is_made_without_a_look_up_and_refuses_at_send_what_it_cannot_reach(loopback_only):
    """At delivery a name that turned private is a failed outcome, not an exception; an address in the URL is
    refused at once (no look-up needed); so is a URL that is no https."""
    metadata = resolving("169.254.169.254")
    stream = destination("https", {"url": f"https://{HOST}/in"}, SECRET, resolve=metadata)
    assert metadata.asked == []
    outcome = stream.send(entries(1))
    assert (outcome.ok, outcome.status, outcome.sent) == (False, None, 0) and "169.254.169.254" in outcome.detail
    assert metadata.asked == [HOST] and loopback_only == []
    for url, said in (("https://169.254.169.254/in", "link-local"), (f"http://{HOST}/in", "must use https")):
        with pytest.raises(BadRequest, match=said):
            destination("https", {"url": url}, SECRET, resolve=metadata)
    assert metadata.asked == [HOST]


def test_tls_is_checked_against_the_urls_host_while_connecting_to_the_checked_address(tmp_path, monkeypatch):
    """The connection goes to an IP, yet the certificate must name the URL's host (SNI and hostname check)."""
    files = tls_files(tmp_path / "good", HOST)
    monkeypatch.setenv("SSL_CERT_FILE", str(files / "ca.pem"))  # the client's trust: the test CA only
    with Receiver((200, "ok"), tls=files) as receiver:
        good = destination(
            "https", {"url": receiver.url("/in", host=HOST, scheme="https")}, SECRET, allow_loopback=True, resolve=LOCAL
        )
        assert good.send(entries(1)) == Outcome(True, 200, "ok", sent=1)
        assert receiver.requests[0].header("Host") == f"{HOST}:{receiver.port}"
        other = "other.customer.test"
        wrong = destination(
            "https",
            {"url": receiver.url("/in", host=other, scheme="https")},
            SECRET,
            allow_loopback=True,
            resolve=LOCAL,
        )
        outcome = wrong.send(entries(1))
    assert (outcome.ok, outcome.status) == (False, None) and "doesn't match" in outcome.detail
    assert len(receiver.requests) == 1


def test_a_standard_webhooks_secret_may_come_without_its_base64_padding():
    unpadded = SECRET.rstrip("=")
    assert unpadded != SECRET
    with Receiver((204, b"")) as receiver:
        assert destination("https", {"url": receiver.url("/in")}, unpadded, allow_loopback=True).send(entries(1)).ok
    (request,) = receiver.requests
    assert Webhook(SECRET).verify(request.body, request.headers) == entries(1)


@pytest.mark.parametrize(
    "kind, secret",
    [
        ("https", "whsec_not*base64!"),
        ("https", "whsec_" + base64.b64encode(b"short").decode()),  # Standard Webhooks asks 24 to 64 bytes
        ("https", base64.b64encode(b"s" * 32).decode()),  # no whsec_ prefix
        ("https", None),
        ("splunk", "token-with\nnewline"),  # http.client would refuse it with the value in the error
        ("splunk", ""),
        ("datadog", "key with spaces"),
    ],
)
def test_a_secret_the_kind_cannot_use_is_refused_without_echoing_it(kind, secret):
    with pytest.raises(BadRequest) as refused:
        destination(kind, {"url": "https://127.0.0.1:8443/"}, secret, allow_loopback=True)
    assert refused.value.field == "secret"
    assert not secret or secret.removeprefix("whsec_") not in refused.value.message


# --- Splunk HEC ----------------------------------------------------------------------------------------------

HEC_OK = (200, '{"text":"Success","code":0}')


def test_splunk_hec_gets_concatenated_json_events_with_its_token():
    with Receiver(HEC_OK) as receiver:
        config = check_config(
            "splunk", {"url": receiver.url(), "index": "audit", "sourcetype": "activitylog:entry"}, allow_loopback=True
        )
        outcome = destination("splunk", config, HEC_TOKEN, allow_loopback=True).send(entries(3))
    assert outcome == Outcome(True, 200, '{"text":"Success","code":0}', sent=3)
    (request,) = receiver.requests
    assert request.path == "/services/collector/event"
    assert request.header("Authorization") == f"Splunk {HEC_TOKEN}"
    sent = hec_events(request.body)
    assert [e["event"] for e in sent] == entries(3)
    when = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()
    assert all(e["time"] == when and e["sourcetype"] == "activitylog:entry" and e["index"] == "audit" for e in sent)


def test_splunk_hec_requests_stay_within_1_mb_and_keep_the_order():
    events = entries(7, size=300_000)  # about 2.1 MB of events: three requests of at most three
    with Receiver(HEC_OK) as receiver:
        outcome = destination("splunk", {"url": receiver.url()}, HEC_TOKEN, allow_loopback=True).send(events)
    assert outcome.ok and outcome.sent == 7
    assert [len(r.body) <= dest.SPLUNK_REQUEST_BYTES == 1_000_000 for r in receiver.requests] == [True] * 3
    assert [e["event"] for r in receiver.requests for e in hec_events(r.body)] == events


def test_an_event_over_hecs_request_limit_is_not_sent_and_the_outcome_names_it():
    events = [*entries(1), *entries(1, size=1_000_000, start=1), *entries(1, start=2)]
    with Receiver(HEC_OK) as receiver:
        outcome = destination("splunk", {"url": receiver.url()}, HEC_TOKEN, allow_loopback=True).send(events)
    assert (outcome.ok, outcome.sent, outcome.undeliverable) == (False, 2, (events[1]["event_id"],))
    assert [e["event"]["event_id"] for r in receiver.requests for e in hec_events(r.body)] == [
        events[0]["event_id"],
        events[2]["event_id"],
    ]


def test_splunk_hec_refusing_the_data_is_a_failed_outcome_with_its_text():
    with Receiver((400, '{"text":"Incorrect index","code":7,"invalid-event-number":0}')) as receiver:
        outcome = destination("splunk", {"url": receiver.url(), "index": "nope"}, HEC_TOKEN, allow_loopback=True).send(
            entries(2)
        )
    assert (outcome.ok, outcome.status, outcome.sent) == (False, 400, 0) and "Incorrect index" in outcome.detail


def test_a_200_without_hecs_success_code_is_not_taken_for_delivery():
    with Receiver((200, "<html>captive portal</html>")) as receiver:
        outcome = destination("splunk", {"url": receiver.url()}, HEC_TOKEN, allow_loopback=True).send(entries(1))
    assert (outcome.ok, outcome.status, outcome.sent) == (False, 200, 0)


# --- Datadog logs --------------------------------------------------------------------------------------------

DD_OK = (202, "{}")


def test_datadog_gets_a_json_array_of_logs_with_its_api_key():
    with Receiver(DD_OK) as receiver:
        config = {"url": receiver.url("/api/v2/logs"), "service": "billing", "tags": "env:prod,team:sec"}
        outcome = destination("datadog", config, DD_KEY, allow_loopback=True).send(entries(2))
    assert outcome == Outcome(True, 202, "{}", sent=2)
    (request,) = receiver.requests
    assert request.path == "/api/v2/logs" and request.header("DD-API-KEY") == DD_KEY
    logs = request.json()
    assert [{**log, "message": json.loads(log["message"])} for log in logs] == [
        {"ddsource": "activitylog", "service": "billing", "message": event, "ddtags": "env:prod,team:sec"}
        for event in entries(2)
    ]
    assert all(isinstance(log["message"], str) for log in logs)  # the intake's message is text: the event as JSON


def test_datadog_arrays_hold_at_most_1000_logs():
    events = entries(2_500)
    with Receiver(DD_OK) as receiver:
        outcome = destination("datadog", {"url": receiver.url("/api/v2/logs")}, DD_KEY, allow_loopback=True).send(
            events
        )
    assert outcome.ok and outcome.sent == 2_500
    assert [len(r.json()) for r in receiver.requests] == [1_000, 1_000, 500]
    assert [json.loads(log["message"]) for r in receiver.requests for log in r.json()] == events


def test_datadog_requests_stay_within_5_mb():
    events = entries(12, size=900_000)  # 12 logs of about 0.9 MB: five fit in 5 MB, six do not
    with Receiver(DD_OK) as receiver:
        outcome = destination("datadog", {"url": receiver.url("/api/v2/logs")}, DD_KEY, allow_loopback=True).send(
            events
        )
    assert outcome.ok and outcome.sent == 12
    assert [len(r.json()) for r in receiver.requests] == [5, 5, 2]
    assert all(len(r.body) <= dest.DATADOG_REQUEST_BYTES == 5_000_000 for r in receiver.requests)


def test_a_log_over_1_mb_is_not_sent_to_datadog_and_the_outcome_names_it():
    events = entries(3)
    events[1] = entries(1, size=1_050_000, start=1)[0]
    with Receiver(DD_OK) as receiver:
        outcome = destination("datadog", {"url": receiver.url("/api/v2/logs")}, DD_KEY, allow_loopback=True).send(
            events
        )
    assert (outcome.ok, outcome.status, outcome.sent) == (False, 202, 2)
    assert outcome.undeliverable == (events[1]["event_id"],)
    assert events[1]["event_id"] in outcome.detail and "1 MB per log" in outcome.detail
    assert [json.loads(log["message"])["event_id"] for log in receiver.requests[0].json()] == [
        events[0]["event_id"],
        events[2]["event_id"],
    ]


def test_datadog_failing_part_way_says_how_many_were_accepted():
    answers = iter([DD_OK, (500, "no")])  # the first array accepted, the second refused
    with Receiver(lambda request: next(answers)) as receiver:
        url = receiver.url("/api/v2/logs")
        outcome = destination("datadog", {"url": url}, DD_KEY, allow_loopback=True).send(entries(1_500))
    assert (outcome.ok, outcome.status, outcome.sent) == (False, 500, 1_000)
    assert len(receiver.requests) == 2


def test_a_datadog_site_names_its_intake():
    eu = resolving("3.233.150.10")
    assert check_config("datadog", {"site": "datadoghq.eu"}, resolve=eu) == {
        "site": "datadoghq.eu",
        "url": "https://http-intake.logs.datadoghq.eu/api/v2/logs",
        "service": "activitylog",
    }
    assert eu.asked == ["http-intake.logs.datadoghq.eu"]
    with pytest.raises(BadRequest) as refused:
        check_config("datadog", {"site": "datadoghq.evil"}, resolve=eu)
    assert refused.value.field == "destination.site"


# --- secrets never in an outcome or a log --------------------------------------------------------------------


@pytest.mark.parametrize("kind, secret", [("splunk", HEC_TOKEN), ("datadog", DD_KEY), ("https", SECRET)])
def test_a_failing_send_never_says_the_secret_even_when_the_receiver_echoes_it(kind, secret, caplog):
    caplog.set_level("DEBUG")

    def echo(request):
        return 401, json.dumps({"error": "bad credentials", "you_sent": request.headers})

    with Receiver(echo) as receiver:
        outcome = destination(kind, {"url": receiver.url("/in")}, secret, allow_loopback=True).send(entries(1))
    assert (outcome.ok, outcome.status) == (False, 401) and "bad credentials" in outcome.detail
    assert secret not in outcome.detail and secret not in repr(outcome) and secret not in caplog.text


def test_a_secret_in_the_settings_is_refused():
    with pytest.raises(BadRequest) as refused:
        check_config("splunk", {"url": "https://127.0.0.1:8088", "token": HEC_TOKEN}, allow_loopback=True)
    assert refused.value.field == "destination.token" and "secret field" in refused.value.message
    assert HEC_TOKEN not in refused.value.message


# --- s3: the customer's bucket through their role ------------------------------------------------------------

CUSTOMER_ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/activitylog-stream"
EXTERNAL_ID = "activitylog-org_acme-5b0f1c"
BUCKET = "acme-audit-logs"


@pytest.fixture
def customer_bucket():
    """The customer's account in moto: its bucket, reached the way the stream reaches it (an assumed role)."""
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        creds = session.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/admin", RoleSessionName="setup"
        )["Credentials"]
        customer = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        customer.create_bucket(Bucket=BUCKET)
        yield session, customer


def test_s3_puts_one_gzip_ndjson_object_per_batch_under_its_date_through_the_customers_role(customer_bucket):
    from moto.sts.models import sts_backends

    session, customer = customer_bucket
    put: list[dict] = []  # what the stream asked S3 for (moto keeps no bucket-owner ACL to read back)
    session.events.register("provide-client-params.s3.PutObject", lambda params, **kwargs: put.append(params))
    config = check_config(
        "s3", {"bucket": BUCKET, "role_arn": ROLE_ARN, "external_id": EXTERNAL_ID, "prefix": "/audit/acme/"}
    )
    events = entries(3)
    outcome = destination("s3", config, None, session=session).send(events)

    key = f"audit/acme/dt=2026-11-26/{events[0]['event_id']}.ndjson.gz"
    assert outcome == Outcome(True, 200, f"s3://{BUCKET}/{key}", sent=3)
    body = customer.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert [json.loads(line) for line in gzip.decompress(body).decode().splitlines()] == events
    # The customer owns what we write; the object is the .gz file itself (no Content-Encoding for a client to undo).
    assert [(p["Key"], p["ACL"], p["ContentType"]) for p in put] == [
        (key, "bucket-owner-full-control", "application/gzip")
    ]
    assumed = sts_backends[CUSTOMER_ACCOUNT]["aws"].assumed_roles[-1]
    assert (assumed.role_arn, assumed.external_id) == (ROLE_ARN, EXTERNAL_ID)


# One entry as each format renders it (activitylog.streams.formats): the id and the time sit in different places.
ENTRY_ID, EVENT_ID, WHEN = (
    "01JDQ7Z9K3M5N7P9R1T3V5X7Z9",
    "01JDQ7Z9K3M5N7P9R1T3V5X7Z9.c585e9d600598577",
    "2026-11-25T23:59:59.500Z",
)
RENDERED = {
    "native": {"id": ENTRY_ID, "event_id": EVENT_ID, "occurred_at": WHEN, "metadata": {"uid": "not-this"}},
    "ocsf": {"class_uid": 6003, "time": 1795651199500, "metadata": {"uid": EVENT_ID, "version": "1.5.0"}},
    "cloudevents": {"specversion": "1.0", "id": EVENT_ID, "time": WHEN, "data": {"id": ENTRY_ID}},
}


@pytest.mark.parametrize("fmt", sorted(RENDERED))
def test_each_format_gives_the_bucket_key_and_hecs_time(fmt, customer_bucket):
    session, customer = customer_bucket
    stream = destination(
        "s3", {"bucket": BUCKET, "role_arn": ROLE_ARN, "external_id": EXTERNAL_ID}, None, session=session
    )
    assert stream.send([RENDERED[fmt]]).ok
    assert [o["Key"] for o in customer.list_objects_v2(Bucket=BUCKET)["Contents"]] == [
        f"activitylog/dt=2026-11-25/{EVENT_ID}.ndjson.gz"
    ]
    with Receiver(HEC_OK) as receiver:
        assert destination("splunk", {"url": receiver.url()}, HEC_TOKEN, allow_loopback=True).send([RENDERED[fmt]]).ok
    assert hec_events(receiver.requests[0].body)[0]["time"] == 1795651199.5


def test_s3_the_same_batch_again_overwrites_its_object(customer_bucket):
    session, customer = customer_bucket
    stream = destination(
        "s3", {"bucket": BUCKET, "role_arn": ROLE_ARN, "external_id": EXTERNAL_ID}, None, session=session
    )
    assert stream.send(entries(2)).ok and stream.send(entries(2)).ok
    keys = [o["Key"] for o in customer.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"activitylog/dt=2026-11-26/{entries(1)[0]['event_id']}.ndjson.gz"]


@pytest.mark.parametrize("granted_prefix, ok", [("activitylog", True), ("elsewhere", False)])
def test_s3_the_role_policy_the_customer_is_given_is_enough_and_moto_enforces_it(granted_prefix, ok, monkeypatch):
    """With moto checking IAM: our service's user may only assume roles; the customer's role has exactly
    ``bucket_role_policy``. A role granted another prefix is refused with S3's 403."""
    from moto import settings as moto_settings

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="activitylog-delivery")
        iam.put_user_policy(
            UserName="activitylog-delivery",
            PolicyName="assume",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="activitylog-delivery")["AccessKey"]
        admin = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/admin", RoleSessionName="setup"
        )["Credentials"]
        customer = boto3.Session(
            aws_access_key_id=admin["AccessKeyId"],
            aws_secret_access_key=admin["SecretAccessKey"],
            aws_session_token=admin["SessionToken"],
            region_name="us-east-1",
        )
        principal = "arn:aws:iam::123456789012:user/activitylog-delivery"
        customer.client("iam").create_role(
            RoleName="activitylog-stream",
            AssumeRolePolicyDocument=json.dumps(dest.bucket_trust_policy(principal, EXTERNAL_ID)),
        )
        customer.client("iam").put_role_policy(
            RoleName="activitylog-stream",
            PolicyName="activitylog-stream",
            PolicyDocument=json.dumps(dest.bucket_role_policy(BUCKET, granted_prefix)),
        )
        customer.client("s3").create_bucket(Bucket=BUCKET)

        monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # from here on, IAM decides
        service = boto3.Session(
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name="us-east-1"
        )
        config = {"bucket": BUCKET, "role_arn": ROLE_ARN, "external_id": EXTERNAL_ID}
        outcome = destination("s3", config, None, session=service).send(entries(2))

    if ok:
        assert outcome.ok and outcome.sent == 2
    else:
        assert (outcome.ok, outcome.status, outcome.sent) == (False, 403, 0) and "AccessDenied" in outcome.detail


def test_s3_a_missing_bucket_is_a_failed_outcome_with_the_error(customer_bucket):
    session, _ = customer_bucket
    outcome = destination(
        "s3", {"bucket": "not-there", "role_arn": ROLE_ARN, "external_id": EXTERNAL_ID}, None, session=session
    ).send(entries(1))
    assert (outcome.ok, outcome.status, outcome.sent) == (False, 404, 0) and "NoSuchBucket" in outcome.detail


@pytest.mark.parametrize(
    "config, field",
    [
        ({"role_arn": ROLE_ARN}, "destination.bucket"),
        ({"bucket": "Bad_Bucket", "role_arn": ROLE_ARN}, "destination.bucket"),
        ({"bucket": BUCKET}, "destination.role_arn"),
        ({"bucket": BUCKET, "role_arn": "arn:aws:iam::1234:user/me"}, "destination.role_arn"),
        ({"bucket": BUCKET, "role_arn": ROLE_ARN, "prefix": "a/../b"}, "destination.prefix"),
        ({"bucket": BUCKET, "role_arn": ROLE_ARN, "region": "mars"}, "destination.region"),
        ({"bucket": BUCKET, "role_arn": ROLE_ARN, "aws_secret_access_key": "x"}, "destination.aws_secret_access_key"),
    ],
)
def test_bad_s3_settings_name_their_field(config, field):
    with pytest.raises(BadRequest) as refused:
        check_config("s3", config)
    assert refused.value.field == field


def test_an_s3_destination_needs_the_external_id_its_role_trusts():
    with pytest.raises(BadRequest) as refused:
        destination("s3", {"bucket": BUCKET, "role_arn": ROLE_ARN}, None)
    assert refused.value.field == "destination.external_id"


def test_an_unknown_kind_names_the_field():
    with pytest.raises(BadRequest) as refused:
        check_config("ftp", {})
    assert refused.value.field == "destination.kind"


# --- the README's section says what the code does ------------------------------------------------------------


def readme_blocks(language: str) -> list[str]:
    """The ``language`` code blocks of the README's "Streams: setting up a destination" section."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Streams: setting up a destination", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_the_readme_receiver_code_verifies_a_delivery():
    (code,) = readme_blocks("python")
    scope: dict = {}
    exec(code.replace('"whsec_..."', repr(SECRET)), scope)  # noqa: S102 - the README's own example, run as written
    with Receiver((204, b"")) as receiver:
        destination("https", {"url": receiver.url("/in")}, SECRET, allow_loopback=True).send(entries(2))
    (request,) = receiver.requests
    assert scope["received"](request.body, request.headers) == entries(2)
    with pytest.raises(scope["WebhookVerificationError"]):
        scope["received"](request.body.replace(b"updated", b"deleted"), request.headers)


def test_the_readme_policies_are_the_ones_the_code_gives():
    trust, permissions = (json.loads(block) for block in readme_blocks("json"))
    statement = trust["Statement"][0]
    principal, external_id = statement["Principal"]["AWS"], statement["Condition"]["StringEquals"]["sts:ExternalId"]
    assert trust == dest.bucket_trust_policy(principal, external_id)
    assert permissions == dest.bucket_role_policy("acme-audit-logs", "activitylog")
