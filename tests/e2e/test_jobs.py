"""Background jobs, retries and chains through the local stack, over HTTP and the platform bus.

Given ``activitylog serve`` on template.yaml, the test process logs like any platform Lambda:
the activity client publishes to the stack's EventBridge bus (moto, at the stack's AWS
endpoint); the template's rule sends the events through SQS to the ingest function; run
requests reach the demo job handler; the sweeper runs on demand with ``activitylog run``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config

from activitylog import ids
from activitylog.jobs.client import ActivityClient, Publisher
from activitylog.jobs.events import RunRequest
from activitylog_local.client import HttpClient
from activitylog_local.demo import demo_entries, seed
from tests.support.stack import wait_for

pytestmark = pytest.mark.e2e

ORG = "org_jobs"
SQUARE = {"type": "integration", "id": "int_square", "label": "Square"}
RILEY = {"kind": "user", "id": "u_17", "name": "Riley Park"}


@pytest.fixture(scope="module")
def platform(api_stack):
    """The stack's AWS endpoint and platform bus, as a Lambda of the platform sees them."""
    status, stack = api_stack.request("GET", "/_local/stack")
    assert status == 200
    return {"endpoint": stack["aws_endpoint"], "bus": stack["event_buses"]["PlatformBus"]}


def events_client(endpoint: str):
    return boto3.client("events", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5))


def activity(platform, org: str = ORG, endpoint: str | None = None, **kwargs) -> ActivityClient:
    publisher = Publisher(platform["bus"], events_client(endpoint or platform["endpoint"]))
    return ActivityClient(org, publisher=publisher, producer="svc_e2e", **kwargs)


def reader(api_stack, org: str = ORG) -> str:
    return api_stack.token(org, "u_17", name="Riley Park", scopes=("read", "retry"))


def entry_when(api_stack, entry_id: str, check, org: str = ORG, timeout: float = 30.0) -> dict:
    """The entry once ``check`` holds for it (events reach the table through SQS, a poll away)."""
    def ready():
        status, body = api_stack.request("GET", f"/activities/{entry_id}", reader(api_stack, org))
        return body if status == 200 and check(body) else None

    return wait_for(ready, timeout=timeout, interval=0.25)


def queue_drained(api_stack) -> bool:
    depth = api_stack.request("GET", "/_local/queues/ActivityEventsQueue")[1]
    return depth["visible"] == 0 and depth["in_flight"] == 0


def related(api_stack, entry_id: str, org: str = ORG) -> list[dict]:
    status, body = api_stack.request("GET", f"/activities/{entry_id}/related", reader(api_stack, org))
    assert status == 200, body
    return body["items"]


def chain_when(api_stack, entry_id: str, check, org: str = ORG) -> list[dict]:
    """The entry's chain once ``check`` holds for it (its entries arrive a poll apart, the first one too)."""
    def ready():
        status, body = api_stack.request("GET", f"/activities/{entry_id}/related", reader(api_stack, org))
        return body["items"] if status == 200 and check(body["items"]) else None

    return wait_for(ready, timeout=30, interval=0.25)


def test_a_jobs_start_progress_and_completion_are_one_entry(api_stack, platform):
    with activity(platform).job("SYNC_SQUARE_STOCK", entity=SQUARE, params={"location_ids": ["L1"]}) as job:
        job.progress(processed=120, total=500)
        running = entry_when(api_stack, job.id, lambda e: e["metadata"].get("processed") == 120)
        assert running["status"] == "IN_PROGRESS"
        job.progress(processed=500, total=500)
    done = entry_when(api_stack, job.id, lambda e: e["status"] == "SUCCESS")
    assert done["metadata"]["processed"] == 500 and done["finished_at"] and done["recorded_by"] == "svc_e2e"
    status, page = api_stack.request("GET", "/activities?type=BACKGROUND_JOB&entity_type=integration", reader(api_stack))
    assert [item["id"] for item in page["items"]].count(job.id) == 1


class Recording:
    """An events client that keeps what it sent, to send a report again later (as SQS may deliver it)."""

    def __init__(self, client) -> None:
        self.client, self.sent = client, []

    def put_events(self, Entries):  # noqa: N803 - boto3's name
        self.sent += Entries
        return self.client.put_events(Entries=Entries)


def test_progress_arriving_after_completion_is_ignored(api_stack, platform):
    bus = Recording(events_client(platform["endpoint"]))
    client = ActivityClient(ORG, publisher=Publisher(platform["bus"], bus), producer="svc_e2e")
    job = client.job("SYNC_WOO_ORDERS")
    job.start()
    job.progress(processed=40, total=100)
    job.finish(processed=100)
    entry_when(api_stack, job.id, lambda e: e["status"] == "SUCCESS")

    progress = next(sent for sent in bus.sent if sent["DetailType"] == "JobProgressed")
    client.publisher.send([progress])  # the progress report once more, after the completion
    wait_for(lambda: queue_drained(api_stack), timeout=30)
    entry = entry_when(api_stack, job.id, lambda e: True)
    assert entry["status"] == "SUCCESS" and entry["metadata"]["processed"] == 100


def test_a_crashed_job_is_marked_stalled_by_the_sweeper_run_on_demand(api_stack, platform):
    job = activity(platform).job("SYNC_SQUARE_STOCK", entity=SQUARE, timeout=timedelta(seconds=1))
    job.start()
    job.progress(processed=120, total=500)  # then the worker dies: no completion ever comes
    entry_when(api_stack, job.id, lambda e: e["metadata"].get("processed") == 120)
    time.sleep(2.5)  # past its deadline: the last report plus 1 s, rounded up to the second

    ran = api_stack.cli("run", "SweeperFunction")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["result"]["stalled"] >= 1

    entry = entry_when(api_stack, job.id, lambda e: e["status"] != "IN_PROGRESS")
    assert entry["status"] == "WARNING" and entry["error"]["type"] == "JobStalled"
    assert entry["metadata"]["processed"] == 120 and entry["metadata"]["total"] == 500
    assert entry["metadata"]["stalled"]["timeout_seconds"] == 1


@pytest.fixture(scope="module")
def demo_org(api_stack) -> str:
    """An org seeded like make dev's (the demo's SYNC_SQUARE_STOCK failure 3 hours ago among its rows), kept apart
    from org_demo, whose rows the other tiers read."""
    writer = HttpClient(api_stack.url, api_stack.token("org_jobs_demo", "svc_e2e_seed", scopes=("read", "write")))
    seed(writer, demo_entries(datetime.now(timezone.utc), count=20, days=1))
    return "org_jobs_demo"


def test_the_demo_square_failure_retried_end_to_end_links_the_new_run_to_it(api_stack, demo_org):
    token = api_stack.token(demo_org, "u_17", name="Riley Park", scopes=("read", "retry"))
    status, page = api_stack.request("GET", "/activities?type=BACKGROUND_JOB&status=FAILED", token)
    original = next(item for item in page["items"] if item["event"] == "SYNC_SQUARE_STOCK")

    status, answer = api_stack.request("POST", f"/activities/{original['id']}/retry", token)
    assert status == 202, answer

    run = entry_when(api_stack, answer["run_id"], lambda e: e["status"] == "SUCCESS", org=demo_org)
    assert run["retry_of"] == original["id"] and run["metadata"]["job"] == "SYNC_SQUARE_STOCK"
    chain = chain_when(api_stack, original["id"], lambda items: len(items) >= 4, org=demo_org)
    assert [(item["type"], item["action"]) for item in chain] == [
        ("BACKGROUND_JOB", "synced"), ("USER_ACTION", "retried"), ("BACKGROUND_JOB", "synced"), ("WEBHOOK", "sent")]
    assert [item["id"] for item in chain][:3] == [original["id"], answer["id"], answer["run_id"]]
    assert chain[1]["actor"]["name"] == "Riley Park"
    # the original says what became of it, in its detail and in its row of the list
    retried = entry_when(api_stack, original["id"], lambda e: (e.get("retried") or {}).get("status") == "SUCCESS", org=demo_org)
    assert retried["retried"]["run_id"] == answer["run_id"] and retried["retried"]["finished_at"] == run["finished_at"]
    status, page = api_stack.request("GET", "/activities?type=BACKGROUND_JOB&status=FAILED", token)
    assert next(item for item in page["items"] if item["id"] == original["id"])["retried"] == retried["retried"]


def failed_job(api_stack, job: str) -> str:
    writer = api_stack.token(ORG, "svc_jobs", scopes=("write",))
    status, body = api_stack.request("POST", "/activities", writer, {
        "type": "BACKGROUND_JOB", "status": "FAILED", "actor": {"kind": "system", "id": "system", "name": "system"},
        "action": "synced", "event": job, "entity": SQUARE, "metadata": {"job": job, "params": {"total": 30}},
        "error": {"message": "upstream timed out", "type": "TimeoutError"}})
    assert status == 201, body
    return body["id"]


def test_a_one_time_sync_cannot_be_retried_from_here(api_stack):
    status, answer = api_stack.request("POST", f"/activities/{failed_job(api_stack, 'INITIAL_SQUARE_IMPORT')}/retry", reader(api_stack))
    assert status == 409 and answer["message"] == "INITIAL_SQUARE_IMPORT is a one-time sync: re-trigger it from its integration page"


def test_pressing_retry_three_times_at_once_starts_one_run(api_stack):
    original = failed_job(api_stack, "SYNC_SQUARE_STOCK")
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: api_stack.request("POST", f"/activities/{original}/retry", reader(api_stack)), range(3)))
    assert {status for status, _ in answers} == {202}
    assert len({answer["run_id"] for _, answer in answers}) == 1
    run_id = answers[0][1]["run_id"]
    entry_when(api_stack, run_id, lambda e: e["status"] == "SUCCESS")
    wait_for(lambda: queue_drained(api_stack), timeout=30)
    chain = related(api_stack, original)
    assert [item["action"] for item in chain if item["type"] == "USER_ACTION"] == ["retried"]
    assert [item["id"] for item in chain if item["type"] == "BACKGROUND_JOB"] == [original, run_id]


def test_a_failed_outgoing_webhook_is_retried_as_a_new_delivery_of_the_same_request(api_stack, platform):
    woo = {"type": "integration", "id": "int_woo", "label": "WooCommerce"}
    sent = activity(platform).webhook_sent("order.created", woo, url="https://hooks.example.com/int_woo", body={"order": 4012},
                                           response_status=500)
    failed = entry_when(api_stack, sent, lambda e: True)
    assert failed["status"] == "FAILED" and failed["retry"] == {"allowed": True}

    status, answer = api_stack.request("POST", f"/activities/{sent}/retry", reader(api_stack))
    assert status == 202 and answer["job"] == "SEND_WEBHOOK", answer
    again = entry_when(api_stack, answer["run_id"], lambda e: True)
    assert (again["type"], again["action"], again["status"], again["retry_of"]) == ("WEBHOOK", "sent", "SUCCESS", sent)
    sent_again = again["metadata"]["webhook"]
    assert (sent_again["url"], sent_again["method"], sent_again["request"]["body"]) == ("https://hooks.example.com/int_woo", "POST", {"order": 4012})
    assert again["metadata"]["topic"] == "order.created" and sent_again["response"]["status_code"] == 200


def test_the_chain_from_a_user_action_to_its_job_and_the_webhook_it_sent(api_stack, platform):
    client = activity(platform, correlation_id="req_e2e_chain")
    action = client.record(type="USER_ACTION", actor=RILEY, action="started", event="Stock sync started · Square", entity=SQUARE)
    run_id = ids.new_id(datetime.now(timezone.utc) + timedelta(milliseconds=5))
    client.publisher.send([RunRequest(ORG, "SYNC_SQUARE_STOCK", run_id, {"total": 60}, SQUARE, "req_e2e_chain",
                                      requested_by=RILEY).event()])  # the platform asks the job handler to run it

    chain = chain_when(api_stack, action, lambda items: len(items) == 3 and items[1]["status"] == "SUCCESS")
    assert [(item["type"], item["id"] == run_id) for item in chain] == [
        ("USER_ACTION", False), ("BACKGROUND_JOB", True), ("WEBHOOK", False)]
    assert [item["id"] for item in related(api_stack, chain[2]["id"])] == [item["id"] for item in chain]
    status, page = api_stack.request("GET", "/activities?correlation_id=req_e2e_chain", reader(api_stack))
    assert [item["id"] for item in page["items"]] == [item["id"] for item in reversed(chain)]


class _Gate(BaseHTTPRequestHandler):
    """Forwards to the stack's AWS endpoint while open; answers 503 while closed (the bus is unavailable)."""

    open = False
    target = ""

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not type(self).open:
            self.send_response(503)
            self.end_headers()
            return
        request = urllib.request.Request(type(self).target + self.path, data=body, method="POST",
                                         headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, headers, data = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, headers, data = error.code, error.headers, error.read()
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_client_never_raises_while_the_bus_is_away_and_the_entry_arrives_once_it_is_back(api_stack, platform):
    _Gate.target, _Gate.open = platform["endpoint"], False
    gate = ThreadingHTTPServer(("127.0.0.1", 0), _Gate)
    threading.Thread(target=gate.serve_forever, daemon=True).start()
    try:
        client = activity(platform, endpoint=f"http://127.0.0.1:{gate.server_address[1]}")
        with client.job("SYNC_SQUARE_STOCK", entity=SQUARE) as job:  # nothing raised into the job
            job.progress(processed=7, total=7)
        change = client.system_event("updated", "Setting changed · Tax collection",
                                     entity={"type": "setting", "id": "set_tax", "label": "Tax collection"},
                                     before={"mode": "origin"}, after={"mode": "destination"})
        assert client.flush() == 4  # buffered: start, progress, finish, the setting change
        assert api_stack.request("GET", f"/activities/{job.id}", reader(api_stack))[0] == 404

        _Gate.open = True  # the bus is back
        assert client.flush() == 0
        assert entry_when(api_stack, job.id, lambda e: e["status"] == "SUCCESS")["metadata"]["processed"] == 7
        setting = entry_when(api_stack, change, lambda e: True)
        assert setting["type"] == "SYSTEM_EVENT" and setting["changes"] == {"/mode": {"before": "origin", "after": "destination"}}
    finally:
        gate.shutdown()
        gate.server_close()
