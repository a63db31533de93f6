"""Alerts (issue 23, item 1) against DynamoDB Local and moto: ``/alerts`` through the settings function, the streams'
fan-out fed from the table's real stream, the window's message on a moto SQS queue, and the notification to a real
HTTP receiver on 127.0.0.1 that verifies the Standard Webhooks signature with the library, or by SES (moto).

The clock is the service's, moved by the test: SQS's delay is asked for (and checked) but the message is put on the
queue at once, so the test decides when the window is due."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from activitylog import wiring
from activitylog.alerts.windows import AlertQueue, Undelivered
from tests.integration.api_events import claims
from tests.integration.streams import TableStream
from tests.support.alerts import AlertReceiver
from tests.support.api import READER, entry, job
from tests.support.faults import MOTO
from tests.support.streams import SECRET

OWNER = {**READER, "email": "riley@acme.example"}  # u_17, activity:read
MEMBER = claims(org="org_acme", sub="u_18", scope="activity:read", name="Casey Lin")
ADMIN = claims(org="org_acme", sub="u_admin", scope="activity:admin", name="Morgan Admin")
OTHER_ADMIN = claims(org="org_globex", sub="u_boss", scope="activity:admin", name="Sam Boss")
FAILED_JOBS = {"type": ["BACKGROUND_JOB"], "status": ["FAILED"]}
PAGE = "https://logs.acme.example/"


def _public(host: str, port: int = 443, *args, **kwargs):
    return [(2, 1, 6, "", ("93.184.216.34", port))]


class World:
    def __init__(self, api, stream: TableStream, queue_url: str, asked: list) -> None:
        self.api, self.stream, self.queue_url, self.asked = api, stream, queue_url, asked
        self.seen = None
        self.now = datetime.now(timezone.utc)
        wiring.container().service.clock = lambda: self.now

    def call(self, method, path, body=None, token=OWNER):
        return self.api.call(method, path, body=body, token=token)

    def create(self, url=None, token=OWNER, **fields):
        destination = {"kind": "https", "url": url} if url else {"kind": "email"}
        body = {"name": "Square sync failures", "filter": FAILED_JOBS, "destination": destination, **fields}
        if url and "secret" not in fields:
            body["secret"] = SECRET
        reply = self.call("POST", "/alerts", body, token)
        assert reply.status == 201, reply
        return reply.body

    def records(self) -> list[dict]:
        found = [r for r in self.stream.records()
                 if self.seen is None or int(r["dynamodb"]["SequenceNumber"]) > int(self.seen)]
        if found:
            self.seen = found[-1]["dynamodb"]["SequenceNumber"]
        return found

    def fan_out(self, records=None) -> dict:
        return wiring.container().fanout.handle(self.records() if records is None else records)

    def messages(self) -> list[dict]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        found = []
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not answer.get("Messages"):
                return found
            for message in answer["Messages"]:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def notify(self, messages=None) -> list:
        """Each message handled as the alerts function would (a failure returned, not raised)."""
        outcomes = []
        for message in self.messages() if messages is None else messages:
            try:
                outcomes.append(wiring.container().notifier.handle(message))
            except Exception as failure:  # noqa: BLE001 - the test reads what failed
                outcomes.append(failure)
        return outcomes

    def failed_jobs(self, count: int, **fields) -> list[str]:
        return [self.api.record({**job(), "status": "FAILED", **fields}).body["id"] for _ in range(count)]


@pytest.fixture
def world(api, activity_table, dynamodb_client, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("RETENTION_CACHE_SECONDS", "0")
    with mock_aws(config=MOTO):
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="alert-windows")["QueueUrl"]
        doorbells = sqs.create_queue(QueueName="streams.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="alerts@acme.example")
        monkeypatch.setenv("ALERT_QUEUE_URL", url)
        monkeypatch.setenv("ALERT_PAGE_URL", PAGE)
        monkeypatch.setenv("STREAM_QUEUE_URL", doorbells)
        monkeypatch.setenv("STREAM_MAIL_FROM", "alerts@acme.example")
        monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "1")
        asked: list[tuple[dict, int]] = []
        send = AlertQueue.send

        def noted(queue, org, alert_id, due, delay_seconds):  # the delay SQS is asked for, then the message at once
            asked.append(({"org": org, "alert": alert_id, "due": due}, delay_seconds))
            send(queue, org, alert_id, due, 0)

        monkeypatch.setattr(AlertQueue, "send", noted)
        wiring.reset()
        wiring.container().alert_settings.resolve = _public
        yield World(api, TableStream(dynamodb_client, activity_table), url, asked)
        wiring.reset()


@pytest.fixture
def receiver():
    server = AlertReceiver()
    yield server
    server.close()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- notifications ------------------------------------------------------------------------------------


def test_a_burst_is_told_once_grouped_with_a_link_to_the_filtered_page_even_when_the_stream_batch_is_retried(world, receiver):
    alert = world.create(receiver.url)
    started = world.api.record(job()).body["id"]  # IN_PROGRESS: not new to the alert yet
    failed = world.failed_jobs(11)
    world.api.record(entry())  # a USER_ACTION: not in the filter
    world.api.patch(started, {"status": "FAILED"})  # becomes FAILED: new to it now
    records = world.records()
    opened = world.now
    assert world.fan_out(records)["alerts"] == 1
    assert world.fan_out(records)["alerts"] == 1  # Lambda retries the batch: nothing counted twice
    state = world.call("GET", f"/alerts/{alert['id']}").body["state"]
    assert state["pending"] == 12 and state["due_at"] is not None

    # The window's message asks SQS for the 30 s the burst is gathered; the retried batch sent it again.
    due = _ms(opened + timedelta(seconds=30))
    assert world.asked == [({"org": "org_acme", "alert": alert["id"], "due": due}, 30)] * 2
    messages = world.messages()
    world.now = opened + timedelta(seconds=30)
    assert world.notify(messages) == [{"sent": True, "count": 12}, {"sent": False, "skipped": "not this window"}]

    (told,) = receiver.documents
    assert told["text"].startswith("“Square sync failures”: 12 new FAILED BACKGROUND_JOB entries in the last minute <")
    assert told["count"] == 12 and told["alert"] == {"id": alert["id"], "name": "Square sync failures"}
    link = urlsplit(told["link"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == PAGE
    query = {key: value[0] for key, value in parse_qs(link.query).items()}
    assert (query["type"], query["status"], query["range"]) == ("BACKGROUND_JOB", "FAILED", "custom")
    listed = world.api.ids(type="BACKGROUND_JOB", status="FAILED", **{"from": query["from"], "to": query["to"]})
    assert set(listed) == {started, *failed}  # the link lists exactly the entries it told of

    # The same stream batch once more, after the window was told: its entries are not told again.
    world.fan_out(records)
    assert world.call("GET", f"/alerts/{alert['id']}").body["state"]["pending"] == 0
    assert world.notify() == [] and len(receiver.documents) == 1


def test_at_most_one_notification_per_5_minutes_and_a_lost_message_send_is_sent_again_on_the_batchs_retry(world, receiver, monkeypatch):
    alert = world.create(receiver.url)
    world.failed_jobs(1)
    first = world.now
    world.fan_out()
    world.now = first + timedelta(seconds=30)
    assert world.notify() == [{"sent": True, "count": 1}]
    told = world.now

    # Ten seconds later, more: the window opens, due 5 minutes after the last notification, not 30 s.
    world.now = told + timedelta(seconds=10)
    world.failed_jobs(3)
    records = world.records()
    sends = AlertQueue.send
    monkeypatch.setattr(AlertQueue, "send", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("SQS unavailable")))
    with pytest.raises(RuntimeError, match="SQS unavailable"):
        world.fan_out(records)  # the window is open but its message was not sent: the batch fails
    monkeypatch.setattr(AlertQueue, "send", sends)
    world.fan_out(records)  # Lambda's retry: the batch that opened the window sends its message
    due = _ms(told + timedelta(minutes=5))
    assert world.asked[-1] == ({"org": "org_acme", "alert": alert["id"], "due": due}, 290)
    messages = world.messages()

    world.now = told + timedelta(minutes=1)  # a message that comes early (a clock apart) waits the rest
    assert world.notify(messages) == [{"sent": False, "skipped": "early"}]
    assert world.asked[-1] == ({"org": "org_acme", "alert": alert["id"], "due": due}, 240)
    assert len(receiver.documents) == 1
    world.now = told + timedelta(minutes=5)
    assert world.notify() == [{"sent": True, "count": 3}]
    assert receiver.documents[-1]["text"].startswith(
        "“Square sync failures”: 3 new FAILED BACKGROUND_JOB entries in the last 5 minutes")
    notified = [_ms(datetime.fromisoformat(d["until"])) for d in receiver.documents]
    assert notified[1] - notified[0] >= 5 * 60 * 1000


def test_a_refused_notification_is_sent_again_with_the_same_id_and_never_twice(world, receiver):
    world.create(receiver.url)
    world.failed_jobs(2)
    world.fan_out()
    messages = world.messages()
    world.now += timedelta(seconds=30)
    receiver.status = 503
    (failure,) = world.notify(messages)
    assert isinstance(failure, Undelivered) and "503" in str(failure)
    receiver.status = 200
    assert world.notify(messages) == [{"sent": True, "count": 2}]  # SQS brings the message back
    assert world.notify(messages) == [{"sent": False, "skipped": "not this window"}]
    assert len(receiver.documents) == 1


def test_a_paused_alert_sends_nothing_and_resumed_tells_only_what_is_new(world, receiver):
    alert = world.create(receiver.url)
    world.failed_jobs(2)
    world.fan_out()
    opened = world.messages()
    assert world.call("POST", f"/alerts/{alert['id']}/pause").body["status"] == "PAUSED"
    world.failed_jobs(3)
    world.fan_out()  # the pause's SYSTEM_EVENT went by first: the fan-out reads the alerts again
    world.now += timedelta(minutes=10)
    assert world.notify(opened) == [{"sent": False, "skipped": "not this window"}]  # its window was dropped
    assert world.messages() == [] and receiver.documents == []
    assert world.call("GET", f"/alerts/{alert['id']}").body["state"]["pending"] == 0

    assert world.call("POST", f"/alerts/{alert['id']}/resume").body["status"] == "ACTIVE"
    world.failed_jobs(1)
    world.fan_out()
    world.now += timedelta(seconds=30)
    assert world.notify() == [{"sent": True, "count": 1}]


def test_an_email_alert_goes_to_its_owners_address_by_ses(world):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    alert = world.create()
    assert alert["destination"] == {"kind": "email", "to": "riley@acme.example"} and alert["secret"] == "none"
    world.failed_jobs(4)
    world.fan_out()
    world.now += timedelta(seconds=30)
    assert world.notify() == [{"sent": True, "count": 4}]
    (sent,) = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert sent.destinations["ToAddresses"] == ["riley@acme.example"]
    assert "4 new FAILED BACKGROUND_JOB entries" in sent.subject and PAGE + "?type=BACKGROUND_JOB" in sent.body


# -- settings ---------------------------------------------------------------------------------------


def test_creating_changing_and_deleting_an_alert_is_recorded_in_the_orgs_log_without_its_secret(world, receiver):
    made = world.call("POST", "/alerts", {"name": "Sync", "filter": {"status": "FAILED"},
                                         "destination": {"kind": "https", "url": receiver.url}})
    assert made.status == 201 and made.body["signing_secret"].startswith("whsec_")  # made for the owner, shown once
    alert = made.body
    assert "signing_secret" not in world.call("GET", f"/alerts/{alert['id']}").body
    world.call("PATCH", f"/alerts/{alert['id']}", {"name": "Sync failures"})
    assert world.call("DELETE", f"/alerts/{alert['id']}").status == 200
    assert world.call("GET", f"/alerts/{alert['id']}").status == 404
    events = world.api.list(type="SYSTEM_EVENT").body["items"]
    assert [e["action"] for e in events] == ["deleted", "updated", "created"]
    assert all(e["entity"]["id"] == f"alert:{alert['id']}" and e["actor"]["id"] == "u_17" for e in events)
    details = [world.api.get(e["id"]).body for e in events]
    assert alert["signing_secret"] not in json.dumps(details)
    created = next(d for d in details if d["action"] == "created")
    assert created["changes"]["/filter"] == {"after": {"status": ["FAILED"]}}
    assert created["changes"]["/secret"] == {"after": "set"}
    updated = next(d for d in details if d["action"] == "updated")
    assert updated["changes"] == {"/name": {"before": "Sync", "after": "Sync failures"}}
    deleted = next(d for d in details if d["action"] == "deleted")
    assert deleted["changes"]["/name"] == {"before": "Sync failures"}


def test_another_orgs_alert_is_a_404_another_members_too_and_an_admin_sees_pauses_and_deletes_everyones(world, receiver):
    alert = world.create(receiver.url)
    path = f"/alerts/{alert['id']}"
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"name": "x"}), ("DELETE", "", None),
                                 ("POST", "/pause", None), ("POST", "/resume", None)):
        for token in (OTHER_ADMIN, MEMBER):
            reply = world.call(method, path + suffix, body, token)
            assert (reply.status, reply.field) == (404, "id"), (method, suffix, token["sub"], reply)
    assert world.call("GET", "/alerts", token=OTHER_ADMIN).body["items"] == []
    assert world.call("GET", "/alerts", token=MEMBER).body["items"] == []
    assert [a["id"] for a in world.call("GET", "/alerts", token=ADMIN).body["items"]] == [alert["id"]]
    assert world.call("PATCH", path, {"name": "mine now"}, ADMIN).status == 403  # an email alert stays its owner's
    assert world.call("POST", path + "/pause", token=ADMIN).body["status"] == "PAUSED"
    assert world.call("DELETE", path, token=ADMIN).status == 200
    assert world.call("GET", path).status == 404


BAD = [  # (body, the field its 400 names)
    ({"filter": FAILED_JOBS, "destination": {"kind": "email"}}, "name"),
    ({"name": "x", "destination": {"kind": "email"}}, "filter"),
    ({"name": "x", "filter": {}, "destination": {"kind": "email"}}, "filter"),
    ({"name": "x", "filter": {"status": ["BROKEN"]}, "destination": {"kind": "email"}}, "filter.status"),
    ({"name": "x", "filter": {"range": "7d"}, "destination": {"kind": "email"}}, "filter.range"),
    ({"name": "x", "filter": FAILED_JOBS, "destination": {"kind": "sms"}}, "destination.kind"),
    ({"name": "x", "filter": FAILED_JOBS, "destination": {"kind": "email", "to": "x@evil.example"}}, "destination.to"),
    ({"name": "x", "filter": FAILED_JOBS, "destination": {"kind": "https", "url": "https://10.0.0.7/hook"}},
     "destination.url"),
    ({"name": "x", "filter": FAILED_JOBS, "destination": {"kind": "https", "url": "https://hooks.slack.example/x"},
      "secret": "hunter2"}, "secret"),
    ({"name": "x", "filter": FAILED_JOBS, "destination": {"kind": "email"}, "colour": "red"}, "colour"),
]


def test_a_bad_alert_is_a_400_naming_the_field_and_nothing_is_written(world):
    for body, field in BAD:  # one world for all (each a fixture of its own costs a second)
        reply = world.call("POST", "/alerts", body)
        assert (reply.status, reply.field) == (400, field), (body, reply)
    assert world.call("GET", "/alerts").body["items"] == []
    assert world.api.list(type="SYSTEM_EVENT").body["items"] == []


def test_an_email_alert_needs_an_email_claim_on_the_token(world):
    reply = world.call("POST", "/alerts", {"name": "x", "filter": FAILED_JOBS, "destination": {"kind": "email"}},
                       token=MEMBER)
    assert (reply.status, reply.field) == (400, "destination"), reply
    assert "email" in reply.body["message"]


# -- interleavings (deterministic: one step run inside the other's read-then-write) -------------------


def test_an_entry_noted_between_the_windows_read_and_its_claim_is_told_with_it_not_lost(world, receiver):
    world.create(receiver.url)
    world.failed_jobs(2)
    world.fan_out()
    messages = world.messages()
    world.now += timedelta(seconds=30)
    store = wiring.container().service.store
    claim, late = store.claim_alert_window, []

    def claim_after_a_fan_out(*args, **kwargs):
        if not late:  # the notifier has read the window: a fan-out adds to it before the claim is written
            late.extend(world.failed_jobs(1))
            world.fan_out()
        return claim(*args, **kwargs)

    store.claim_alert_window = claim_after_a_fan_out
    assert world.notify(messages) == [{"sent": True, "count": 3}]  # the claim over the stale read failed, then took all
    assert receiver.documents[0]["count"] == 3


def test_a_window_claimed_between_a_fan_outs_read_and_its_update_moves_the_next_window_by_the_rate(world, receiver):
    alert = world.create(receiver.url)
    world.failed_jobs(2)
    world.fan_out()
    messages = world.messages()
    world.now += timedelta(seconds=30)
    told = world.now
    store = wiring.container().service.store
    note, claimed = store.note_alert_matches, []

    def note_after_a_claim(*args, **kwargs):
        if not claimed:  # the fan-out has read the window: the notifier claims and tells it before the update
            claimed.extend(world.notify(messages))
        return note(*args, **kwargs)

    store.note_alert_matches = note_after_a_claim
    world.failed_jobs(1)
    world.fan_out()
    assert claimed == [{"sent": True, "count": 2}]
    # The update over the stale read failed; read again, the new entry opened a window 5 minutes after the send.
    due = _ms(told + timedelta(minutes=5))
    assert world.asked[-1] == ({"org": "org_acme", "alert": alert["id"], "due": due}, 300)
    world.now = told + timedelta(minutes=5)
    assert world.notify() == [{"sent": True, "count": 1}]
