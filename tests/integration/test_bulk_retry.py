"""Bulk retry through its functions: functions/retries fed API Gateway events, functions/bulk_retry fed the state
machine's step events (a Map's items run by threads here, as many at once as a test says), against DynamoDB Local,
with the platform bus and its rules in moto (``tests.support.platform.Platform``).

The state machine itself (moto's interpreter on infra/statemachines/bulk_retry.asl.json) runs in
tests/e2e/test_page_bulk_retry.py, through the local stack.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from activitylog import wiring
from activitylog.jobs import bulk as bulk_module
from activitylog.jobs.bulk import CANCELLED_REASON, ELSEWHERE_REASON
from tests.support.api import READER, WRITER, Api

from .api_events import LambdaContext, api_event, claims, load_handler_module

FAILED_JOBS = {"type": "BACKGROUND_JOB", "status": "FAILED"}
RILEY = claims(org="org_acme", sub="u_17", scope="activity:read activity:retry", name="Riley Park")
SQUARE = {"type": "integration", "id": "int_square", "label": "Square"}


@pytest.fixture
def api(platform):
    return Api()


@pytest.fixture
def machine(platform, monkeypatch):
    """A state machine that does nothing itself: the test runs its steps (``run``)."""
    arn = boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
        name="bulk-retry", definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/bulk-retry")["stateMachineArn"]
    monkeypatch.setenv("BULK_RETRY_STATE_MACHINE", arn)
    wiring.reset()
    return arn


def request(body, token=RILEY) -> tuple[int, dict]:
    return call("POST", "/retries", body, token)


def call(method: str, path: str, body=None, token=RILEY) -> tuple[int, dict]:
    event = api_event(method, path, body=body, claims=token)
    response = load_handler_module("RetriesFunction").lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def step(name: str, state: dict) -> dict:
    return load_handler_module("BulkRetryWorkerFunction").lambda_handler({"step": name, "bulk": state}, LambdaContext())


def run(bulk_id: str, workers: int = 4, between_pages=None) -> list[dict]:
    """The machine's loop: Page, a Map over its ids (``workers`` at once), until done; then Finish."""
    state, outcomes = {"org": "org_acme", "bulk_id": bulk_id}, []
    while True:
        state = step("page", state)
        with ThreadPoolExecutor(workers) as pool:
            outcomes += pool.map(lambda original: step("retry", {"org": "org_acme", "bulk_id": bulk_id, "original": original}),
                                 state["items"])
        if between_pages:
            between_pages()
        if state["done"]:
            step("finish", state)
            return outcomes


def seed(api, job: str = "SYNC_SQUARE_STOCK", count: int = 1, status: str = "FAILED", **extra) -> list[str]:
    documents = [{
        "type": "BACKGROUND_JOB", "status": status, "actor": {"kind": "system", "id": "system", "name": "system"},
        "action": "synced", "event": job, "entity": SQUARE,
        "metadata": {"job": job, "params": {"location_ids": [f"L{n}"]}, **extra},
        **({"error": {"message": "Square API returned 503", "type": "ApiException"}} if status != "SUCCESS" else {}),
    } for n in range(count)]
    reply = api.call("POST", "/activities/batch", body={"entries": documents}, token=WRITER)
    assert reply.status == 200, reply
    return [result["id"] for result in reply.body["results"]]


def run_requests_per_original(platform) -> Counter:
    return Counter(request["detail"]["retry_of"] for request in platform.run_requests())


def test_an_empty_or_missing_filter_is_refused_naming_filters(platform, api, idempotency_table, machine):
    seed(api, count=2)
    for body in ({}, {"filters": {}}, {"filters": {"from": "24h"}}, {"filters": {"type": []}}, {"filters": None}):
        status, answer = request({**body, "confirm": True})
        assert (status, answer["field"]) == (400, "filters"), (body, answer)
    assert request({"filters": {"colour": "red"}})[1]["field"] == "filters.colour"
    assert request({"filters": FAILED_JOBS, "confirm": "yes"})[1]["field"] == "confirm"
    assert platform.run_requests() == []  # nothing was started by any of them
    assert call("GET", "/retries")[1]["items"] == []


def test_the_preview_counts_what_matches_what_can_be_retried_and_why_not_the_rest(platform, api, idempotency_table, machine):
    retryable = seed(api, count=3)
    seed(api, job="IMPORT_CONTACTS", count=2)  # a one-time sync
    seed(api, count=1, retryable=False)  # a run recorded as not retryable
    seed(api, status="SUCCESS", count=4)  # not matched: the filter is FAILED only

    status, preview = request({"filters": {**FAILED_JOBS, "from": "1h"}})

    assert status == 200 and preview["preview"] is True
    assert (preview["matched"], preview["retryable"]) == (6, 3)
    assert preview["skipped"] == {
        "IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page": 2,
        "this run of SYNC_SQUARE_STOCK was recorded as not retryable: re-trigger it where it started": 1,
    }
    # the relative window was frozen into absolute ends when asked
    assert preview["filters"]["type"] == ["BACKGROUND_JOB"] and preview["filters"]["from"].endswith("+00:00")
    assert preview["filters"]["to"] == preview["as_of"]
    assert platform.run_requests() == [] and call("GET", "/retries")[1]["items"] == []  # a preview starts nothing
    assert len(retryable) == 3


def test_a_filter_matching_more_than_a_bulk_retry_takes_is_refused_naming_filters(platform, api, idempotency_table, machine, monkeypatch):
    monkeypatch.setattr(bulk_module, "MAX_ORIGINALS", 3)
    seed(api, count=4)
    status, answer = request({"filters": FAILED_JOBS, "confirm": True})
    assert (status, answer["field"]) == (400, "filters") and "more than 3 entries" in answer["message"]
    assert platform.run_requests() == [] and call("GET", "/retries")[1]["items"] == []


def test_a_confirmed_bulk_retry_retries_each_original_once_as_its_button_would(platform, api, idempotency_table, machine):
    retryable = seed(api, count=5)
    seed(api, job="IMPORT_CONTACTS", count=1)

    status, bulk = request({"filters": FAILED_JOBS, "name": "Square outage", "confirm": True})
    assert status == 202, bulk
    assert (bulk["name"], bulk["status"], bulk["matched"], bulk["started"]) == ("Square outage", "RUNNING", 6, 0)
    assert bulk["requested_by"] == {"id": "u_17", "name": "Riley Park"}

    outcomes = run(bulk["id"])

    assert Counter(outcome["outcome"] for outcome in outcomes) == {"started": 5, "skipped": 1}
    status, done = call("GET", f"/retries/{bulk['id']}", token=READER)
    assert status == 200 and (done["status"], done["started"], done["failed"]) == ("DONE", 5, 0)
    assert done["skipped"] == {"IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page": 1}
    assert run_requests_per_original(platform) == Counter(retryable)  # one run asked for per retryable original

    # each is the button's: a "Retried …" entry in the requester's name, in the original's chain
    platform.deliver_all()
    for original in retryable:
        (pressed,) = [item for item in api.list(token=READER, correlation_id=original).body["items"] if item["type"] == "USER_ACTION"]
        assert pressed["event"] == "Retried SYNC_SQUARE_STOCK" and pressed["actor"]["id"] == "u_17"
    # the bulk retry is itself an entry: BACKGROUND_JOB BULK_RETRY, who asked, the filter, its counts
    entry = api.get(bulk["id"], token=READER).body
    assert (entry["type"], entry["event"], entry["status"], entry["actor"]["id"]) == ("BACKGROUND_JOB", "BULK_RETRY", "SUCCESS", "u_17")
    assert entry["metadata"]["filters"]["status"] == ["FAILED"] and entry["metadata"]["started"] == 5
    assert [item["id"] for item in call("GET", "/retries")[1]["items"]] == [bulk["id"]]

    # the Map's items run again (Step Functions retrying them), and a second bulk over the same originals: no second run
    again = [step("retry", {"org": "org_acme", "bulk_id": bulk["id"], "original": original}) for original in retryable]
    assert {outcome["outcome"] for outcome in again} == {"started"}
    status, second = request({"filters": FAILED_JOBS, "confirm": True})
    second_outcomes = run(second["id"])
    assert Counter(o.get("reason") for o in second_outcomes if o["outcome"] == "skipped")[ELSEWHERE_REASON] == 5
    assert call("GET", f"/retries/{second['id']}")[1]["started"] == 0
    assert run_requests_per_original(platform) == Counter()  # not one more run


def test_a_cancel_half_way_retries_nothing_more_and_nothing_twice(platform, api, idempotency_table, machine, monkeypatch):
    """Four workers retry originals while a member cancels mid-page: every original is either started (claimed before
    the cancel landed) or skipped as cancelled, none is retried after the cancel, none twice, and the machine stops
    at the next page."""
    monkeypatch.setattr(bulk_module, "PAGE_ENTRIES", 10)
    originals = seed(api, count=30)
    status, bulk = request({"filters": FAILED_JOBS, "confirm": True})
    assert status == 202

    # the cancel lands while the second page's Map runs: after four of its originals were claimed
    claimed, cancel_after, landed = [], 14, threading.Event()
    real_claim = bulk_module.BulkRetryProgress.claim

    def claim(self, org, bulk_id, original):
        # Claims one at a time (the workers run at once around them): the cancel then lands exactly after the
        # 14th claim. Outside the lock, a claim that DynamoDB took before the cancel could be counted after it.
        with lock:
            answer = real_claim(self, org, bulk_id, original)
            if answer is None:
                claimed.append(original)
                assert not landed.is_set(), "an original was claimed after the cancel landed"
            if len(claimed) == cancel_after and not landed.is_set():
                assert call("POST", f"/retries/{bulk['id']}/cancel")[0] == 200
                landed.set()
        return answer

    lock = threading.Lock()
    monkeypatch.setattr(bulk_module.BulkRetryProgress, "claim", claim)
    pages = []
    outcomes = run(bulk["id"], workers=4, between_pages=lambda: pages.append(1))

    assert landed.is_set() and len(claimed) == cancel_after
    assert len(pages) == 3  # the first page, the cancelled one, and the empty page that ends the run
    status, done = call("GET", f"/retries/{bulk['id']}")
    assert (done["status"], done["started"], done["cancelled_by"]) == ("CANCELLED", cancel_after, "u_17")
    assert done["skipped"] == {CANCELLED_REASON: 20 - cancel_after}
    requests = run_requests_per_original(platform)
    assert set(requests) == set(claimed) and set(requests.values()) == {1}  # nothing retried twice, none after
    assert Counter(o["outcome"] for o in outcomes) == {"started": cancel_after, "skipped": 20 - cancel_after}
    assert api.get(bulk["id"], token=READER).body["status"] == "WARNING"  # its entry: ended early
    assert call("POST", f"/retries/{bulk['id']}/cancel")[0] == 200  # cancelling again changes nothing
    assert len(originals) == 30


def test_bulk_retries_need_the_retry_scope_and_stay_in_their_org(platform, api, idempotency_table, machine):
    seed(api, count=1)
    assert request({"filters": FAILED_JOBS}, token=READER)[1]["field"] == "scope"
    status, bulk = request({"filters": FAILED_JOBS, "confirm": True})
    other = claims(org="org_globex", sub="u_99", scope="activity:read activity:retry")
    assert call("GET", f"/retries/{bulk['id']}", token=other)[0] == 404
    assert call("POST", f"/retries/{bulk['id']}/cancel", token=other)[0] == 404
    assert call("GET", "/retries", token=other)[1]["items"] == []
    assert call("POST", f"/retries/{bulk['id']}/cancel", token=READER)[1]["field"] == "scope"


def test_a_retry_the_bus_refuses_is_counted_failed_and_a_second_bulk_retry_can_start_it(platform, api, idempotency_table, machine, monkeypatch):
    (original,) = seed(api, count=1)
    status, bulk = request({"filters": FAILED_JOBS, "confirm": True})
    monkeypatch.setenv("ACTIVITY_BUS_NAME", "no-such-bus")
    wiring.reset()
    (outcome,) = run(bulk["id"])
    assert outcome["outcome"] == "failed" and "nothing was started" in outcome["reason"]
    assert call("GET", f"/retries/{bulk['id']}")[1]["failed"] == 1
    assert api.get(bulk["id"], token=READER).body["status"] == "WARNING"

    monkeypatch.setenv("ACTIVITY_BUS_NAME", "platform")
    wiring.reset()
    status, again = request({"filters": FAILED_JOBS, "confirm": True})
    assert [o["outcome"] for o in run(again["id"])] == ["started"]  # the failed attempt left no idempotency record
    assert run_requests_per_original(platform) == Counter({original: 1})
