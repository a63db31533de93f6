"""W3C trace correlation: a write's traceparent kept as the entry's trace_id/span_id, passed on to the jobs
and webhooks it starts (a retry, the activity client), and searchable with ?trace_id= (the by_trace index)."""

from __future__ import annotations

import json

from activitylog.jobs.client import Publisher

from .api_events import LambdaContext, api_event, claims, load_handler_module
from .test_jobs import RILEY, api, failed_sync, platform  # noqa: F401 - fixtures
from tests.support.api import OTHER_ORG_READER, WRITER, Api, entry, job

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
PARENT = f"00-{TRACE}-{SPAN}-01"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def send(api: Api, method: str, path: str, body, traceparent: str, token=WRITER):
    return api.call(method, path, token=token,
                    raw=api_event(method, path, body=body, claims=token, headers={"traceparent": traceparent}))


def test_a_traceparent_is_kept_on_record_batch_and_patch_and_an_invalid_one_is_ignored(api):
    one = send(api, "POST", "/activities", entry(), PARENT)
    assert one.status == 201, one
    assert (one.body["trace_id"], one.body["span_id"]) == (TRACE, SPAN)
    assert api.get(one.body["id"]).body["trace_id"] == TRACE  # stored, not only answered

    batch = send(api, "POST", "/activities/batch",
                 {"entries": [entry(), entry(trace_id=OTHER_TRACE, span_id=SPAN)]}, PARENT)
    assert batch.status == 200, batch
    first, second = (api.get(r["id"]).body for r in batch.body["results"])
    assert first["trace_id"] == TRACE and second["trace_id"] == OTHER_TRACE  # a body's own trace wins

    started = api.record(job())  # no trace: a PATCH under one gives it
    assert started.status == 201 and started.body["trace_id"] is None
    patched = send(api, "PATCH", f"/activities/{started.body['id']}", {"metadata": {"processed": 5}}, PARENT)
    assert patched.status == 200, patched
    assert (patched.body["trace_id"], patched.body["span_id"]) == (TRACE, SPAN)

    for invalid in (f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01", f"00-{TRACE.upper()}-{SPAN}-01", "garbage"):
        ignored = send(api, "POST", "/activities", entry(), invalid)
        assert ignored.status == 201, ignored  # the spec: ignore it, never refuse the write
        assert ignored.body["trace_id"] is None and ignored.body["span_id"] is None


def test_a_bad_trace_field_in_a_body_is_a_400_naming_it(api):
    for body, field in (
        (entry(trace_id="0" * 32), "trace_id"),
        (entry(trace_id=TRACE.upper()), "trace_id"),
        (entry(trace_id=TRACE, span_id="xyz"), "span_id"),
        (entry(span_id=SPAN), "span_id"),
    ):
        reply = api.record(body)
        assert reply.status == 400 and reply.field == field, (body, reply)
    assert api.list(trace_id="0" * 32).field == "trace_id"
    assert api.list(trace_id="abc").status == 400
    assert api.list(trace_id=TRACE, correlation_id="req_1").field == "trace_id"


def test_the_list_finds_a_trace_by_its_index_and_another_org_never_sees_it(api):
    mine = [send(api, "POST", "/activities", entry(), PARENT).body["id"] for _ in range(3)]
    api.record(entry())  # untraced: not in the trace
    send(api, "POST", "/activities", entry(), f"00-{OTHER_TRACE}-{SPAN}-01")
    other_org = claims(org="org_globex", sub="svc_contacts", scope="activity:write")
    send(api, "POST", "/activities", entry(), PARENT, token=other_org)  # the same trace id in another org

    assert api.ids(trace_id=TRACE) == mine[::-1]
    assert api.ids(trace_id=TRACE, type="BACKGROUND_JOB") == []
    assert len(api.ids(token=OTHER_ORG_READER, trace_id=TRACE)) == 1  # its own entry only
    assert api.ids(trace_id="1" * 32) == []


def test_a_retry_and_the_job_it_runs_and_that_jobs_webhook_keep_the_trace(platform, api, idempotency_table):
    original = failed_sync(api)
    reply = api.call("POST", f"/activities/{original}/retry", token=RILEY,
                     raw=api_event("POST", f"/activities/{original}/retry", claims=RILEY,
                                   headers={"traceparent": PARENT}))
    assert reply.status == 202, reply
    (request,) = platform.run_requests()
    assert request["detail"]["traceparent"] == PARENT

    # The job handler runs it through the activity client: the run and the webhook it sends keep the trace.
    load_handler_module("DemoJobsFunction").run(request, Publisher(platform.bus, platform.events))
    platform.deliver_all()
    traced = {item["type"]: item for item in api.list(trace_id=TRACE).body["items"]}
    assert set(traced) == {"USER_ACTION", "BACKGROUND_JOB", "WEBHOOK"}, traced  # "Retried …", the run, its webhook
    assert traced["BACKGROUND_JOB"]["id"] == reply.body["run_id"]
    run = api.get(reply.body["run_id"]).body
    assert (run["trace_id"], run["span_id"], run["status"]) == (TRACE, SPAN, "SUCCESS")


def test_a_retry_without_a_traceparent_runs_under_the_original_entrys_trace(platform, api, idempotency_table):
    recorded = send(api, "POST", "/activities", json.loads(json.dumps(failed_body())), PARENT)
    assert recorded.status == 201, recorded
    event = api_event("POST", f"/activities/{recorded.body['id']}/retry", claims=RILEY)
    response = load_handler_module("RetryFunction").lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 202, response
    (request,) = platform.run_requests()
    assert request["detail"]["traceparent"].split("-")[1] == TRACE


def test_the_activity_clients_trace_reaches_a_jobs_entries_and_its_webhooks(platform, api):
    activity = platform.client(correlation_id="req_9", traceparent=PARENT)
    with activity.job("SYNC_SQUARE_STOCK", entity={"type": "integration", "id": "int_square", "label": "Square"}) as run:
        run.progress(processed=1, total=2)
        # another client inside the job's block (no trace of its own) joins the job's trace
        hook = platform.client().webhook_sent("inventory.updated", {"type": "integration", "id": "int_woo", "label": "Woo"},
                                              url="https://hooks.example.com/woo", response_status=200)
    untraced = platform.client(traceparent="00-bad-01").system_event("cache_cleared", "Cache cleared")
    platform.deliver_all()
    assert api.ids(trace_id=TRACE) == [hook, run.id]
    assert api.get(run.id).body["status"] == "SUCCESS" and api.get(hook).body["span_id"] == SPAN
    assert api.get(untraced).body["trace_id"] is None


def failed_body() -> dict:
    return {
        "type": "BACKGROUND_JOB", "status": "FAILED", "actor": {"kind": "system", "id": "system", "name": "system"},
        "action": "synced", "event": "SYNC_SQUARE_STOCK", "entity": {"type": "integration", "id": "int_square", "label": "Square"},
        "metadata": {"job": "SYNC_SQUARE_STOCK", "params": {"location_ids": ["L1"]}},
        "error": {"message": "Square API returned 401 UNAUTHORIZED", "type": "ApiException"},
    }
