"""Jobs and system events against DynamoDB Local, with EventBridge and SQS in moto.

The activity client publishes to a moto bus; the template's own rule patterns route the
events to SQS queues; what arrives is handed to template.yaml's functions as their SQS
event source would hand it (``kit.sqs_record``), in the order (and as often) a test says.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import EndpointConnectionError

from activitylog import wiring
from activitylog.api import common
from activitylog.jobs import client as client_module
from activitylog.jobs.client import Publisher
from activitylog.jobs.sweeper import sweep
from tests.support.api import READER, WRITER, Api
from tests.support.platform import Platform

from .api_events import LambdaContext, api_event, claims, load_handler_module

RILEY = claims(org="org_acme", sub="u_17", scope="activity:read activity:retry", name="Riley Park")
SQUARE = {"type": "integration", "id": "int_square", "label": "Square"}
WOO = {"type": "integration", "id": "int_woo", "label": "WooCommerce"}
@pytest.fixture
def api(platform):
    return Api()


def detail(api: Api, entry_id: str, token=READER) -> dict:
    reply = api.get(entry_id, token=token)
    assert reply.status == 200, reply
    return reply.body


# -- one entry per job run ------------------------------------------------------------------------------


def test_a_jobs_start_progress_and_completion_are_one_entry(platform, api):
    with platform.client().job("SYNC_SQUARE_STOCK", entity=SQUARE, params={"location_ids": ["L1"]}) as job:
        job.progress(processed=120, total=500)
        platform.deliver_all()
        running = detail(api, job.id)
        assert running["status"] == "IN_PROGRESS" and running["metadata"]["processed"] == 120
        job.progress(processed=500, total=500)
    platform.deliver_all()

    entry = detail(api, job.id)
    assert entry["status"] == "SUCCESS" and entry["metadata"]["processed"] == 500
    assert entry["metadata"]["params"] == {"location_ids": ["L1"]} and entry["finished_at"] and entry["recorded_by"] == "svc_jobs"
    assert api.ids(type="BACKGROUND_JOB") == [job.id]


def test_reports_in_any_order_and_delivered_twice_make_one_entry_with_the_final_state(platform, api):
    with platform.client().job("SYNC_WOO_ORDERS", entity=WOO) as job:
        for processed in (10, 20, 30):
            job.progress(processed=processed, total=30)
        job.warn("2 orders had no SKU")
    messages = platform.received(platform.activity_queue)
    assert len(messages) == 5
    shuffled = messages[::-1] + random.Random(7).sample(messages, 5)  # the finish first, then everything again
    for message in shuffled:
        assert platform.deliver([message]) == {"batchItemFailures": []}

    entry = detail(api, job.id)
    assert entry["status"] == "WARNING" and entry["metadata"]["processed"] == 30
    assert entry["metadata"]["warnings"] == ["2 orders had no SKU"]
    assert api.ids(type="BACKGROUND_JOB", status="WARNING,IN_PROGRESS") == [job.id]


def test_progress_arriving_after_completion_changes_nothing(platform, api):
    job = platform.client().job("SYNC_SQUARE_STOCK", entity=SQUARE)
    job.start()
    job.progress(processed=50, total=100)
    job.finish(processed=100)
    start, progress, finish = platform.received(platform.activity_queue)
    for message in (start, finish, progress):  # SQS reordered the progress behind the completion
        assert platform.deliver([message]) == {"batchItemFailures": []}
    entry = detail(api, job.id)
    assert entry["status"] == "SUCCESS" and entry["metadata"]["processed"] == 100
    assert entry["sequence"] == json.loads(finish["Body"])["detail"]["sequence"]


def test_each_report_is_applied_by_the_entry_rules_and_a_report_after_a_finish_is_counted_late(platform, api):
    from activitylog.jobs.events import ActivityEvent
    from activitylog.jobs.ingest import record_event

    job = platform.client().job("SYNC_SQUARE_STOCK", entity=SQUARE)
    job.start()
    job.progress(processed=50)
    job.finish(processed=100)
    start, progress, finish = [ActivityEvent.parse(json.loads(m["Body"])) for m in platform.received(platform.activity_queue)]
    service = common.service()
    assert [record_event(service, e) for e in (start, start, finish, progress)] == ["created", "updated", "updated", "updated"]
    assert detail(api, job.id)["metadata"]["processed"] == 100  # the stale progress changed nothing
    newer = ActivityEvent(progress.org, progress.entry_id, {**progress.entry, "metadata": {"processed": 99}},
                          finish.sequence + 1, progress.reported_at, progress.producer)
    assert record_event(service, newer) == "late"  # newer than the finish, yet the entry is finished: dropped
    assert detail(api, job.id)["status"] == "SUCCESS"


def test_a_start_delivered_twice_at_once_makes_one_entry(platform, api):
    job = platform.client().job("NIGHTLY_CONTACT_DEDUPE")
    job.start()
    (start,) = platform.received(platform.activity_queue)
    results = []
    threads = [threading.Thread(target=lambda: results.append(platform.deliver([start]))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"batchItemFailures": []}] * 4
    assert api.ids(type="BACKGROUND_JOB") == [job.id]


def test_an_event_that_is_not_an_entry_fails_alone_and_the_rest_of_the_batch_lands(platform, api):
    activity = platform.client()
    activity.system_event("cache_cleared", "Product catalog cache cleared")
    platform.events.put_events(Entries=[{"Source": "activitylog.client", "DetailType": "ActivityRecorded", "EventBusName": "platform",
                                         "Detail": json.dumps({"org_id": "org_acme", "entry_id": "01M8AP55CB939ADHT5N4N8XQT2",
                                                               "entry": {"type": "NOPE"}})}])
    messages = platform.received(platform.activity_queue)
    bad = next(m for m in messages if "NOPE" in m["Body"])
    assert platform.deliver(messages) == {"batchItemFailures": [{"itemIdentifier": bad["MessageId"]}]}
    assert len(api.ids(type="SYSTEM_EVENT")) == 1


def test_a_webhook_delivery_on_the_activity_queue_is_not_an_activity_event_and_fails_alone(platform, api):
    # Each queue carries its own: a webhook delivery is the webhook ingest's (tests/integration/test_webhooks.py),
    # and one that lands here fails, comes back and dead-letters without holding up the job's report beside it.
    from activitylog.webhooks.mapping import redacted_request
    from activitylog.webhooks.providers import PROVIDERS
    from activitylog.webhooks.queue import message_for
    from tests.support.kit import provider_event, signed_delivery

    job = platform.client().job("SYNC_SQUARE_STOCK", entity=SQUARE)
    job.start()
    event = provider_event("stripe", "evt_shared_queue_1", "payment_intent.succeeded", amount=4200)
    url = "https://api.example.com/webhooks/stripe/org_acme"
    body, headers = signed_delivery("stripe", "whsec_test", event, url)
    delivery = message_for("stripe", "org_acme", PROVIDERS["stripe"].identity(body)[1], datetime.now(timezone.utc).isoformat(),
                           redacted_request(headers, body, url))
    platform.sqs.send_message(QueueUrl=platform.activity_queue[0], MessageBody=json.dumps(delivery))
    messages = platform.received(platform.activity_queue)
    stray = next(m for m in messages if "evt_shared_queue_1" in m["Body"])
    assert len(messages) == 2 and platform.deliver(messages) == {"batchItemFailures": [{"itemIdentifier": stray["MessageId"]}]}
    assert detail(api, job.id)["status"] == "IN_PROGRESS"
    assert api.list(type="WEBHOOK").body["items"] == []


# -- the sweeper ---------------------------------------------------------------------------------------


def test_a_job_that_stops_reporting_is_marked_stalled_with_its_last_progress_kept(platform, api):
    job = platform.client().job("SYNC_SQUARE_STOCK", entity=SQUARE)
    job.start()
    job.progress(processed=120, total=500)  # and then the worker crashed
    platform.deliver_all()
    service = common.service()
    reported = datetime.now(timezone.utc)

    assert sweep(service, reported + timedelta(minutes=14)) == {"due": 0, "stalled": 0}
    assert sweep(service, reported + timedelta(minutes=16)) == {"due": 1, "stalled": 1}

    entry = detail(api, job.id)
    assert entry["status"] == "WARNING" and entry["error"]["type"] == "JobStalled"
    assert entry["metadata"]["processed"] == 120 and entry["metadata"]["total"] == 500
    assert sweep(service, reported + timedelta(hours=1)) == {"due": 0, "stalled": 0}  # out of the open jobs index
    # The worker's late completion changes nothing: a finished entry does not change.
    job.finish()
    platform.deliver_all()
    assert detail(api, job.id)["status"] == "WARNING"


def test_a_job_finishing_while_the_sweeper_decides_wins(platform, api):
    job = platform.client().job("SYNC_SQUARE_STOCK", entity=SQUARE)
    job.start()
    platform.deliver_all()
    service = common.service()
    read = service.store.get_at

    def read_then_the_job_finishes(org, shard, entry_id):
        entry = read(org, shard, entry_id)  # the sweeper has read IN_PROGRESS …
        job.finish(processed=500)  # … when the completion lands
        platform.deliver_all()
        return entry

    service.store.get_at = read_then_the_job_finishes
    try:
        result = sweep(service, datetime.now(timezone.utc) + timedelta(minutes=16))
    finally:
        service.store.get_at = read
    assert result == {"due": 1, "stalled": 0}
    entry = detail(api, job.id)
    assert entry["status"] == "SUCCESS" and entry["error"] is None and entry["metadata"]["processed"] == 500


# -- the chain -----------------------------------------------------------------------------------------


def record_chain(platform: Platform) -> tuple[str, str, str]:
    """Riley starts a stock sync; the job sends an outgoing webhook: three entries, one chain."""
    activity = platform.client(correlation_id="req_7f3a")
    action = activity.record(type="USER_ACTION", actor={"kind": "user", "id": "u_17", "name": "Riley Park"}, action="started",
                             event="Stock sync started · Square", entity=SQUARE)
    with activity.job("SYNC_SQUARE_STOCK", entity=SQUARE) as job:
        webhook = activity.webhook_sent("inventory.updated", WOO, url="https://hooks.example.com/woo", response_status=200)
    platform.client().system_event("cache_cleared", "Product catalog cache cleared")  # no chain
    platform.deliver_all()
    return action, job.id, webhook


def test_related_answers_the_whole_chain_in_time_order_from_any_of_its_entries(platform, api):
    action, job, webhook = record_chain(platform)
    for member in (action, job, webhook):
        reply = api.call("GET", f"/activities/{member}/related")
        assert reply.status == 200, reply
        assert [item["id"] for item in reply.body["items"]] == [action, job, webhook]
        assert reply.body["correlation_id"] == "req_7f3a" and reply.body["complete"] is True
    assert [item["type"] for item in reply.body["items"]] == ["USER_ACTION", "BACKGROUND_JOB", "WEBHOOK"]


def test_the_list_filters_by_correlation_id_and_another_org_sees_no_chain(platform, api):
    action, job, webhook = record_chain(platform)
    assert api.ids(correlation_id="req_7f3a") == [webhook, job, action]
    assert api.ids(correlation_id="req_7f3a", type="WEBHOOK") == [webhook]
    other = claims(org="org_globex", sub="u_99", scope="activity:read")
    assert api.ids(token=other, correlation_id="req_7f3a") == []
    assert api.call("GET", f"/activities/{job}/related", token=other).status == 404


# -- retry ---------------------------------------------------------------------------------------------


def failed_sync(api: Api, job: str = "SYNC_SQUARE_STOCK", **metadata) -> str:
    reply = api.record({
        "type": "BACKGROUND_JOB", "status": "FAILED", "actor": {"kind": "system", "id": "system", "name": "system"},
        "action": "synced", "event": job, "entity": SQUARE,
        "metadata": {"job": job, "params": {"location_ids": ["L1"]}, **metadata},
        "error": {"message": "Square API returned 401 UNAUTHORIZED", "type": "ApiException"},
    }, token=WRITER)
    assert reply.status == 201, reply
    return reply.body["id"]


def retry(entry_id: str, token=RILEY) -> tuple[int, dict]:
    event = api_event("POST", f"/activities/{entry_id}/retry", claims=token)
    response = load_handler_module("RetryFunction").lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_retry_asks_for_the_run_and_records_who_retried_it(platform, api, idempotency_table):
    original = failed_sync(api)
    status, answer = retry(original)
    assert status == 202, answer
    assert answer["retry_of"] == original and answer["job"] == "SYNC_SQUARE_STOCK" and answer["correlation_id"] == original

    (request,) = platform.run_requests()
    assert request["detail-type"] == "RetryRequested"
    assert request["detail"] | {"requested_by": None, "record": None} == {
        "org_id": "org_acme", "job": "SYNC_SQUARE_STOCK", "run_id": answer["run_id"], "params": {"location_ids": ["L1"]},
        "entity": SQUARE, "correlation_id": original, "retry_of": original, "requested_by": None, "record": None}
    assert request["detail"]["record"]["entry_id"] == answer["id"]  # the caller's "Retried" entry rides in it
    assert request["detail"]["requested_by"] == {"kind": "user", "id": "u_17", "name": "Riley Park"}

    platform.deliver_all()
    action = detail(api, answer["id"])
    assert (action["type"], action["action"], action["event"]) == ("USER_ACTION", "retried", "Retried SYNC_SQUARE_STOCK")
    assert action["actor"] == {"kind": "user", "id": "u_17", "name": "Riley Park"} and action["retry_of"] == original
    assert action["id"] < answer["run_id"]  # the click, then the run, in the chain's time order


class BusTakingOneCall:
    """The platform bus that takes one PutEvents call, then is unreachable."""

    def __init__(self, events) -> None:
        self.events, self.calls = events, 0

    def put_events(self, **kwargs) -> dict:
        self.calls += 1
        if self.calls > 1:
            raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")
        return self.events.put_events(**kwargs)


def test_the_retried_entry_is_recorded_whenever_the_run_was_asked_for(platform, api, idempotency_table, monkeypatch):
    """The bus takes the run request, then goes away, and the retry function's environment ends: the caller's
    "Retried" entry still lands, as it rode in the run request (a second event would have died in its buffer)."""
    original = failed_sync(api)
    bus = BusTakingOneCall(platform.events)
    monkeypatch.setattr(Publisher, "_client", lambda self: bus)
    status, answer = retry(original)
    assert status == 202, answer
    wiring.reset()  # the environment ends, with whatever it buffered

    platform.deliver_all()
    action = detail(api, answer["id"])
    assert (action["type"], action["event"], action["retry_of"]) == ("USER_ACTION", "Retried SYNC_SQUARE_STOCK", original)
    assert action["actor"]["name"] == "Riley Park" and action["correlation_id"] == original
    assert [r["detail"]["run_id"] for r in platform.run_requests()] == [answer["run_id"]]


def test_a_second_retry_within_the_window_answers_the_first(platform, api, idempotency_table):
    original = failed_sync(api)
    first, second = retry(original), retry(original)
    assert first == second and first[0] == 202
    assert len(platform.run_requests()) == 1


SAM = claims(org="org_acme", sub="u_42", scope="activity:read activity:retry", name="Sam Lee")


def test_another_users_press_within_the_window_shares_the_run_and_is_recorded_in_their_name(platform, api, idempotency_table):
    original = failed_sync(api)
    # Given Riley pressed Retry
    riley = retry(original)
    # When Sam presses it a minute later, and once more
    sam, sam_again = retry(original, token=SAM), retry(original, token=SAM)
    # Then the run is shared, Sam's press has its own entry, and pressing again adds nothing
    assert riley[0] == sam[0] == 202, (riley, sam)
    assert sam[1]["run_id"] == riley[1]["run_id"] and sam[1]["id"] != riley[1]["id"]
    assert sam_again == sam and retry(original) == riley
    assert len(platform.run_requests()) == 1
    platform.deliver_all()
    pressed = detail(api, sam[1]["id"])
    assert (pressed["type"], pressed["action"], pressed["event"]) == ("USER_ACTION", "retried", "Retried SYNC_SQUARE_STOCK")
    assert pressed["actor"] == {"kind": "user", "id": "u_42", "name": "Sam Lee"}
    assert pressed["retry_of"] == original and pressed["correlation_id"] == original
    assert pressed["metadata"]["run_id"] == riley[1]["run_id"]
    chain = api.call("GET", f"/activities/{original}/related").body["items"]
    assert sorted(i["actor"]["name"] for i in chain if i["action"] == "retried") == ["Riley Park", "Sam Lee"]


def test_two_members_pressing_retry_at_once_start_one_run_and_each_press_is_recorded(platform, api, idempotency_table):
    original = failed_sync(api)
    answers: dict[str, tuple] = {}
    start = threading.Barrier(2)

    def press(name: str, token) -> None:
        start.wait()
        answers[name] = retry(original, token=token)

    threads = [threading.Thread(target=press, args=args) for args in (("riley", RILEY), ("sam", SAM))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers["riley"][0] == answers["sam"][0] == 202, answers
    assert answers["riley"][1]["run_id"] == answers["sam"][1]["run_id"] and answers["riley"][1]["id"] != answers["sam"][1]["id"]
    assert len(platform.run_requests()) == 1
    platform.deliver_all()
    assert {detail(api, answers[n][1]["id"])["actor"]["id"] for n in answers} == {"u_17", "u_42"}


def test_two_retries_at_once_start_one_run(platform, api, idempotency_table):
    original = failed_sync(api)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(retry(original))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1 and answers[0][0] == 202
    assert len(platform.run_requests()) == 1


def test_a_one_time_sync_is_a_409_naming_where_to_re_trigger_it(platform, api, idempotency_table):
    status, answer = retry(failed_sync(api, job="IMPORT_CONTACTS"))
    assert status == 409 and answer == {"message": "IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page",
                                        "field": "id"}
    assert platform.run_requests() == []


def test_retrying_another_orgs_entry_is_a_404_and_needs_the_retry_scope(platform, api, idempotency_table):
    original = failed_sync(api)
    assert retry(original, token=claims(org="org_globex", sub="u_99", scope="activity:retry"))[0] == 404
    assert retry(original, token=READER)[0] == 403
    assert platform.run_requests() == []


def test_when_the_bus_refuses_the_retry_is_a_503_and_nothing_is_recorded(platform, api, idempotency_table, monkeypatch):
    original = failed_sync(api)
    monkeypatch.setenv("ACTIVITY_BUS_NAME", "no-such-bus")
    wiring.reset()
    status, answer = retry(original)
    assert status == 503 and "nothing was started" in answer["message"]
    monkeypatch.setenv("ACTIVITY_BUS_NAME", "platform")
    wiring.reset()
    assert retry(original)[0] == 202  # the failed attempt left no idempotency record behind
    assert len(platform.run_requests()) == 1


# -- the client's buffer never gets stuck (issue 18, item 14) --------------------------------------------

AWS_REQUEST_LIMIT = 256 * 1024


def documented_size(entry: dict) -> int:
    """A PutEvents entry's size as AWS documents it ("Calculating PutEvents event entry size"): Time 14 bytes,
    Source, DetailType, Detail and each Resource their UTF-8 bytes."""
    size = 14 if entry.get("Time") is not None else 0
    size += sum(len(entry.get(name, "").encode()) for name in ("Source", "DetailType", "Detail"))
    return size + sum(len(r.encode()) for r in entry.get("Resources") or [])


def as_aws_refuses(platform: Platform, refuse=lambda entries: False) -> tuple[list[int], list[bool]]:
    """Make the moto bus refuse a whole request as AWS does: entries totalling 256 KB or more (moto takes any
    size), or whatever ``refuse`` says. Answers the sizes of the requests it refused, and a switch: while it
    holds True, the bus cannot be reached."""
    from botocore.exceptions import ClientError

    refused, away = [], [False]

    def check(params, **_):
        if away[0]:
            raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")
        total = sum(documented_size(e) for e in params["Entries"])
        if total >= AWS_REQUEST_LIMIT or refuse(params["Entries"]):
            refused.append(total)
            raise ClientError({"Error": {"Code": "ValidationException",
                                         "Message": "Total size of the entries in the request is over the limit."}}, "PutEvents")

    platform.events.meta.events.register("before-parameter-build.events.PutEvents", check)
    return refused, away


def test_events_buffered_while_the_bus_was_away_go_out_in_requests_it_takes_whatever_their_size(platform, api):
    # Given eleven entries of about 30 KB each, buffered while the bus was away: ten of them are more than one request may carry
    refused, away = as_aws_refuses(platform)
    activity = platform.client()
    away[0] = True
    ids_ = [activity.record(type="SYSTEM_EVENT", action="synced", event=f"Catalog synced {n}", metadata={"blob": "x" * 30_000})
            for n in range(11)]
    assert len(activity.publisher.pending) == 11

    # When the bus is back
    away[0] = False

    # Then every one is delivered, in order, none waits, and the bus refused no request
    assert activity.flush() == 0 and refused == []
    platform.deliver_all()
    assert [detail(api, entry_id)["event"] for entry_id in ids_] == [f"Catalog synced {n}" for n in range(11)]


def test_an_event_over_the_limit_is_refused_at_the_call_and_never_blocks_the_rest(platform, api, monkeypatch):
    counted = []
    monkeypatch.setattr(client_module, "_count", lambda name, value: counted.append(name))
    refused, _ = as_aws_refuses(platform)
    activity = platform.client()

    # When an entry whose event cannot fit is recorded (a 300 KB `after`: only metadata and stacks give way), then another
    too_big = activity.record(type="SYSTEM_EVENT", action="updated", event="Catalog replaced", after={"catalog": "x" * 300_000})
    fine = activity.record(type="SYSTEM_EVENT", action="updated", event="Tax mode changed")

    # Then the big one is refused at the call (not buffered, counted), and the next one goes out
    assert activity.publisher.pending == deque() and refused == []
    assert "ActivityEventsRejected" in counted
    platform.deliver_all()
    assert detail(api, fine)["event"] == "Tax mode changed"
    assert api.get(too_big, token=READER).status == 404


def test_a_request_the_bus_refuses_as_a_whole_is_split_and_only_the_bad_event_is_dropped(platform, api, monkeypatch):
    # Given a bus that refuses any request holding one particular event (as it would one nested too deep)
    counted = []
    monkeypatch.setattr(client_module, "_count", lambda name, value: counted.append(name))
    refused, away = as_aws_refuses(platform, refuse=lambda entries: any("Poisoned" in e["Detail"] for e in entries))
    activity = platform.client()

    # When the events wait in the buffer together (the bus was away), then go out
    away[0] = True
    ids_ = [activity.record(type="SYSTEM_EVENT", action="updated", event=event) for event in ("Before", "Poisoned", "After")]
    assert len(activity.publisher.pending) == 3
    away[0] = False
    assert activity.flush() == 0

    # Then the good events went, in order, and the bad one was dropped and counted
    assert refused and "ActivityEventsRejected" in counted
    platform.deliver_all()
    assert [detail(api, ids_[0])["event"], detail(api, ids_[2])["event"]] == ["Before", "After"]
    assert api.get(ids_[1], token=READER).status == 404


# -- W3C trace correlation: passed on to the runs and webhooks a traced write starts ---------------------

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
PARENT = f"00-{TRACE}-{SPAN}-01"


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
    recorded = api.call("POST", "/activities", token=WRITER, raw=api_event("POST", "/activities", body=failed_body(), claims=WRITER, headers={"traceparent": PARENT}))
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


def failed_body() -> dict:  # failed_sync's body, sent with a traceparent
    return {
        "type": "BACKGROUND_JOB", "status": "FAILED", "actor": {"kind": "system", "id": "system", "name": "system"},
        "action": "synced", "event": "SYNC_SQUARE_STOCK", "entity": {"type": "integration", "id": "int_square", "label": "Square"},
        "metadata": {"job": "SYNC_SQUARE_STOCK", "params": {"location_ids": ["L1"]}},
        "error": {"message": "Square API returned 401 UNAUTHORIZED", "type": "ApiException"},
    }
