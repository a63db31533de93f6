"""The core under races, lost answers, throttling and settings changes, on DynamoDB Local.

Each test reproduces one way the log could lose or misreport data: two job updates at
once over an offloaded detail, a write whose answer was lost, DynamoDB refusing under
load, an org's shard count going down, retention shortened, a filter no index answers.
Faults are injected at botocore's ``before-send`` (the request really reaches DynamoDB
Local, or is answered with the error DynamoDB would give), never by stubbing the store.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from activitylog.api.errors import answer_of, status_of
from activitylog.views import detail_view
from activitylog import keys, store, wiring
from activitylog.api import common
from activitylog.query import merge
from activitylog.details import DetailStore
from activitylog.config import Settings
from activitylog.errors import Conflict, NotFound, Unauthorized, Unavailable
from activitylog.query.filters import parse_list_request
from activitylog.inputs import EntryUpdate, NewEntry
from activitylog.rules import new_entry
from activitylog.service import ActivityService, Caller

from tests.support.faults import MOTO, answer as _answer, faults
from tests.support.store import CURSOR_SECRET, NOW, WRITER, random_documents, service_for



def new_job(service: ActivityService, **overrides) -> str:
    document = random_documents(1, 21)[0] | {"occurred_at": None, "type": "BACKGROUND_JOB", "status": "IN_PROGRESS", **overrides}
    return service.record(WRITER, NewEntry.model_validate(document)).id


def big(label: str) -> dict:
    """Metadata too large for an item: it goes to S3."""
    return {"log": "".join(f"{label}{n:x}" for n in range(40_000))}


@pytest.fixture
def bucket(activity_table):
    with mock_aws(config=MOTO):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="details")
        yield s3


def objects(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="details").get("Contents", []))


# -- 1. a losing update never touches the winner's detail -----------------------------------


def test_an_update_that_loses_the_race_leaves_the_winners_detail_whole(activity_table, bucket):
    service = service_for(activity_table, 2, bucket="details")
    job_id = new_job(service, metadata=big("a"))
    # Given two writers that read the same running job
    stale = service.store.get(service.storage("org_a"), job_id, consistent=True)
    # When one completes it with an error and a large detail
    service.update(WRITER, job_id, EntryUpdate(status="FAILED", error={"message": "card declined"}, metadata=big("b")))
    # And the other then saves its stale copy
    stale.metadata = big("c")
    assert service.store.replace(service.storage("org_a"), stale, expected_status=stale.status) is False
    # Then the entry shows the winner's error and detail, and only the winner's object is left
    final = service.get(WRITER, job_id)
    assert final.error == {"message": "card declined"} and final.metadata["log"] == big("b")["log"]
    assert objects(bucket) == [store.EntryItem.get(keys.table_pk("org_a", keys.shard_of(job_id, 2)), job_id).detail_ref]


def test_concurrent_final_reports_on_an_offloaded_job_leave_exactly_the_winners_detail(activity_table, bucket, quick_backoff):
    service = service_for(activity_table, 2, bucket="details")
    job_id = new_job(service, metadata=big("start"))
    answers: dict[str, object] = {}

    def report(status: str) -> None:
        update = EntryUpdate(status=status, error={"message": f"by {status}"}, metadata=big(status))
        try:
            answers[status] = service.update(WRITER, job_id, update).status.value
        except (Conflict, Unavailable) as error:
            answers[status] = status_of(error)

    threads = [threading.Thread(target=report, args=(s,)) for s in ("FAILED", "WARNING", "SUCCESS")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = service.get(WRITER, job_id)
    # Exactly one report won, and the entry carries that report's own error and detail
    winners = [status for status, answer in answers.items() if answer == status]
    assert winners == [final.status.value], answers
    assert final.error == {"message": f"by {final.status.value}"}
    assert final.metadata["log"] == big(final.status.value)["log"]
    assert len(objects(bucket)) == 1


# -- 2. no orphaned objects, and a missing one is no 5xx -------------------------------------


def test_a_batch_that_fails_leaves_no_detail_objects_behind(activity_table, bucket):
    service = service_for(activity_table, 2, bucket="details")
    existing = service.record(WRITER, NewEntry.model_validate(random_documents(1, 31)[0] | {"occurred_at": None}))
    fresh = [new_entry(NewEntry.model_validate(d | {"occurred_at": None, "metadata": big(str(n))}), WRITER.subject, service.clock(), 730)
             for n, d in enumerate(random_documents(3, 32))]
    with pytest.raises(Conflict):
        service.store.put_all(service.storage("org_a"), fresh + [service.store.get(service.storage("org_a"), existing.id)])
    assert objects(bucket) == []


def test_a_single_write_that_fails_removes_its_detail_object(activity_table, bucket):
    service = service_for(activity_table, 2, bucket="details")
    entry = new_entry(NewEntry.model_validate(random_documents(1, 33)[0] | {"occurred_at": None, "metadata": big("x")}), WRITER.subject, service.clock(), 730)
    with faults("PutItem", ["ValidationException"]), pytest.raises(Exception):
        service.store.put(service.storage("org_a"), entry)
    assert objects(bucket) == []


def test_a_missing_detail_object_answers_the_list_columns_with_a_marker(activity_table, bucket):
    service = service_for(activity_table, 2, bucket="details")
    job_id = new_job(service, metadata=big("gone"))
    for key in objects(bucket):
        bucket.delete_object(Bucket="details", Key=key)
    entry = service.get(WRITER, job_id)
    view = detail_view(entry)
    assert view["id"] == job_id and view["status"] == "IN_PROGRESS"
    assert "could not be read" in view["detail_unavailable"]
    assert "metadata" not in view


# -- 3. lowering the shard count hides nothing -----------------------------------------------


def test_entries_stay_listed_read_and_updatable_as_the_shard_count_goes_8_then_2_then_4(activity_table):
    # Given jobs written while the org had 8 shards
    written = [new_job(service_for(activity_table, 8)) for _ in range(12)]
    assert len({keys.shard_of(i, 8) for i in written}) > 2
    for shards in (2, 4):
        # When the org's shard count changes
        service = service_for(activity_table, shards)
        # Then every entry is listed, read and updated in place
        assert sorted(i["id"] for i in service.list(WRITER, parse_list_request({"limit": "50"})).items) == sorted(written)
        for job_id in written:
            assert service.get(WRITER, job_id).id == job_id
        service.update(WRITER, written[shards], EntryUpdate(status="SUCCESS"))
        assert sorted(i["id"] for i in service.list(WRITER, parse_list_request({"status": "IN_PROGRESS,SUCCESS"})).items) == sorted(written)
    assert service.store.shards_written("org_a") == 8


# -- 6. a write whose answer was lost ----------------------------------------------------------


def test_a_write_that_committed_but_whose_answer_was_lost_is_recorded_once_and_answered_as_success(activity_table):
    service = service_for(activity_table, 2)
    document = random_documents(1, 41)[0] | {"occurred_at": None}
    # When DynamoDB writes the entry but its answer is lost, and botocore sends it again
    with faults("PutItem", ["lost"]) as seen:
        entry = service.record(WRITER, NewEntry.model_validate(document))
    # Then the writer hears success, and the entry is there once
    assert seen == ["lost"]
    assert [i["id"] for i in service.list(WRITER, parse_list_request({})).items] == [entry.id]


def test_a_batch_that_committed_but_whose_answer_was_lost_is_answered_as_success(activity_table):
    service = service_for(activity_table, 2)
    documents = [d | {"occurred_at": None} for d in random_documents(5, 42)]
    with faults("TransactWriteItems", ["lost"]) as seen:
        result = service.record_batch(WRITER, documents)
    assert seen == ["lost"] and result["accepted"] == 5
    listed = [i["id"] for i in service.list(WRITER, parse_list_request({})).items]
    assert sorted(listed) == sorted(r["id"] for r in result["results"])


def test_a_different_entry_under_an_existing_id_is_still_a_conflict(activity_table):
    service = service_for(activity_table, 2)
    entry = new_entry(NewEntry.model_validate(random_documents(1, 43)[0] | {"occurred_at": None}), WRITER.subject, service.clock(), 730)
    service.store.put(service.storage("org_a"), entry)
    entry.event = "something else"
    with pytest.raises(Conflict):
        service.store.put(service.storage("org_a"), entry)


# -- 7. throttling and transaction conflicts ----------------------------------------------


def test_a_batch_meeting_transaction_conflicts_is_retried_and_written(activity_table, quick_backoff):
    service = service_for(activity_table, 2)
    with faults("TransactWriteItems", ["TransactionConflict", "TransactionConflict"]) as seen:
        result = service.record_batch(WRITER, [d | {"occurred_at": None} for d in random_documents(4, 51)])
    assert len(seen) == 2 and result["accepted"] == 4
    assert len(service.list(WRITER, parse_list_request({})).items) == 4


def test_a_batch_that_stays_refused_is_a_503_with_retry_after_and_writes_nothing(activity_table, quick_backoff):
    service = service_for(activity_table, 2)
    with faults("TransactWriteItems", ["TransactionConflict"] * store.WRITE_ATTEMPTS), pytest.raises(Unavailable) as caught:
        service.record_batch(WRITER, [d | {"occurred_at": None} for d in random_documents(4, 52)])
    assert answer_of(caught.value)[0] == 503 and answer_of(caught.value)[2] == {"Retry-After": "1"}
    assert service.list(WRITER, parse_list_request({})).items == []


def test_a_single_write_refused_under_load_is_a_503(activity_table, quick_backoff):
    service = service_for(activity_table, 2)
    with faults("PutItem", ["TransactionConflictException"] * store.WRITE_ATTEMPTS), pytest.raises(Unavailable):
        service.record(WRITER, NewEntry.model_validate(random_documents(1, 53)[0] | {"occurred_at": None}))
    assert service.list(WRITER, parse_list_request({})).items == []


# -- 11 and 12. bounded reads, and no trailing empty page --------------------------------------


def test_a_filter_no_index_answers_reads_at_most_the_budget_and_the_cursor_resumes_there(activity_table, monkeypatch):
    service = service_for(activity_table, 1)
    # Given 300 actions of one user, two of them (deep in the history) webhooks
    documents = [d | {"occurred_at": (NOW - timedelta(minutes=n)).isoformat(), "type": "WEBHOOK" if n in (150, 290) else "USER_ACTION",
                      "actor": {"kind": "user", "id": "u_1", "name": "U"}} for n, d in enumerate(random_documents(300, 61))]
    written = []
    for start in range(0, 300, 100):
        written += [r["id"] for r in service.record_batch(WRITER, documents[start:start + 100])["results"]]
    monkeypatch.setattr(merge, "MAX_ITEMS_READ", 100)
    # When that user's webhooks are paged through
    query = {"user": "u_1", "type": "WEBHOOK", "limit": "50"}
    reads, listed, cursor_token = [], [], None
    while True:
        result = service.list(WRITER, parse_list_request({**query, **({"cursor": cursor_token} if cursor_token else {})}))
        reads.append(result.page.scanned)
        listed += [i["id"] for i in result.items]
        cursor_token = result.next_cursor
        if not cursor_token:
            break
    # Then no request read much past the budget, several pages were needed, and the two
    # webhooks came once each, newest first
    assert max(reads) <= 100 + 64, reads
    assert len(reads) >= 3
    assert listed == [written[150], written[290]]


def test_the_last_entry_on_its_own_page_has_no_next_cursor(activity_table):
    service = service_for(activity_table, 2)
    for n in range(2):
        document = random_documents(1, 70 + n)[0] | {"status": "SUCCESS", "type": "WEBHOOK", "occurred_at": (NOW - timedelta(minutes=n)).isoformat()}
        service.record(WRITER, NewEntry.model_validate(document))
    first = service.list(WRITER, parse_list_request({"limit": "1", "type": "WEBHOOK"}))
    second = service.list(WRITER, parse_list_request({"limit": "1", "type": "WEBHOOK", "cursor": first.next_cursor}))
    assert len(first.items) == 1 and first.next_cursor
    assert len(second.items) == 1 and second.next_cursor is None


# -- 14. retention at read time -------------------------------------------------------------


def test_an_entry_older_than_the_orgs_current_retention_is_neither_listed_nor_read(activity_table):
    old_doc = random_documents(1, 81)[0] | {"occurred_at": (NOW - timedelta(days=100)).isoformat()}
    new_doc = random_documents(1, 82)[0] | {"occurred_at": None}
    two_years = service_for(activity_table, 2)
    old = two_years.record(WRITER, NewEntry.model_validate(old_doc))
    new = two_years.record(WRITER, NewEntry.model_validate(new_doc))
    window = {"from": (NOW - timedelta(days=200)).isoformat()}
    assert {i["id"] for i in two_years.list(WRITER, parse_list_request(window)).items} == {old.id, new.id}
    # When the org's retention is shortened to 90 days (TTL has not deleted anything yet)
    ninety = ActivityService(Settings(table_name=activity_table, detail_bucket=None, default_shards=2, cursor_secret=CURSOR_SECRET,
                                      org_overrides={"org_a": {"retention_days": 90}}), store.EntryStore(DetailStore(None)))
    # Then the old entry is gone from every view, and a back-dated write past it is refused
    assert [i["id"] for i in ninety.list(WRITER, parse_list_request(window)).items] == [new.id]
    with pytest.raises(NotFound):
        ninety.get(WRITER, old.id)
    with pytest.raises(NotFound):
        ninety.update(WRITER, old.id, EntryUpdate(status="SUCCESS"))
    with pytest.raises(Exception) as caught:
        ninety.record(WRITER, NewEntry.model_validate(old_doc))
    assert caught.value.field == "occurred_at"


def test_an_org_id_that_could_reach_another_orgs_keys_is_refused():
    for org in ("org_a#1", "", "a" * 129, "org a"):
        with pytest.raises(Unauthorized):
            Caller(org, "u_1", frozenset({"activity:read"}))


# -- 4. jobs finishing while pages are read ---------------------------------------------------


def test_paging_while_jobs_finish_lists_every_entry_exactly_once(activity_table):
    service = service_for(activity_table, 2)
    # Given 60 running jobs among 60 finished ones
    documents = [d | {"type": "BACKGROUND_JOB", "status": "IN_PROGRESS" if n % 2 else "SUCCESS",
                      "occurred_at": (NOW - timedelta(seconds=n)).isoformat()} for n, d in enumerate(random_documents(120, 91))]
    written = [r["id"] for start in (0, 60) for r in service.record_batch(WRITER, documents[start:start + 60])["results"]]
    running = [i for n, i in enumerate(written) if n % 2]
    expected = sorted(written, reverse=True)
    done = threading.Event()

    def finish(jobs: list[str]) -> None:
        for job_id in jobs:
            service.update(WRITER, job_id, EntryUpdate(status=random.choice(["SUCCESS", "FAILED", "WARNING"])))

    # When four workers complete the jobs while a reader pages through all of them, five at a time
    workers = [threading.Thread(target=finish, args=(running[k::4],)) for k in range(4)]
    for worker in workers:
        worker.start()
    passes = []
    while not done.is_set():
        done.set() if not any(w.is_alive() for w in workers) else None
        listed, token = [], None
        while True:
            query = {"type": "BACKGROUND_JOB", "from": (NOW - timedelta(hours=1)).isoformat(), "limit": "5"}
            result = service.list(WRITER, parse_list_request({**query, **({"cursor": token} if token else {})}))
            listed += [i["id"] for i in result.items]
            token = result.next_cursor
            if not token:
                break
        passes.append(listed)
    for worker in workers:
        worker.join()
    # Then every pass listed each entry exactly once, newest first, whatever moved under it
    assert len(passes) >= 2
    for listed in passes:
        assert listed == expected, (len(listed), len(set(listed)), len(expected))


def test_the_api_answers_a_batch_dynamodb_keeps_refusing_with_503_and_retry_after(api, quick_backoff):
    from .api_events import LambdaContext, api_event, handler_module
    from tests.support.api import WRITER as API_WRITER, entry

    assert api.ids() == []  # the handler's service (and its DynamoDB client) exist before the fault is set
    event = api_event("POST", "/activities/batch", body={"entries": [entry(), entry()]}, claims=API_WRITER)
    with faults("TransactWriteItems", ["TransactionConflict"] * store.WRITE_ATTEMPTS):
        response = handler_module("POST", "/activities/batch").lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 503 and response["headers"]["Retry-After"] == "1"
    assert json.loads(response["body"])["field"] == "entries"
    assert api.ids() == []


# -- DynamoDB failing under the API: 503 with Retry-After, nothing written (issue 18, item 26) ----------------


def _refusing(operation: str, code: str, client=None):
    """DynamoDB answering every call of ``operation`` with ``code`` (a 500 for the 5xx codes), on the table's
    client or another (Powertools')."""
    events = (client or store.table_connection().connection.client).meta.events
    status = 500 if code in ("InternalServerError", "ServiceUnavailable") else 400

    def handler(request, **_):
        return _answer(request, status, code)

    events.register(f"before-send.dynamodb.{operation}", handler, unique_id=f"refusing-{operation}")
    return lambda: events.unregister(f"before-send.dynamodb.{operation}", unique_id=f"refusing-{operation}")


def _call(method: str, path: str, body=None, key: str | None = None) -> tuple[int, dict, dict]:
    from .api_events import LambdaContext, api_event, claims, handler_module

    token = claims(org="org_acme", sub="svc_contacts", scope="activity:read activity:write activity:retry")
    event = api_event(method, path, body=body, claims=token, headers={"Idempotency-Key": key} if key else None)
    response = handler_module(method, path).lambda_handler(event, LambdaContext(timeout=15))
    return response["statusCode"], json.loads(response["body"]), {k.lower(): v for k, v in (response.get("headers") or {}).items()}


def _routes(job_id: str) -> list[tuple[str, str, object]]:
    from tests.support.api import entry

    return [("GET", "/activities", None), ("GET", f"/activities/{job_id}", None), ("POST", "/activities", entry()),
            ("POST", "/activities/batch", {"entries": [entry(), entry()]}), ("PATCH", f"/activities/{job_id}", {"status": "SUCCESS"})]


@pytest.mark.parametrize("operation, code, route", [
    ("UpdateItem", "InternalServerError", "POST /activities"),  # the org's shard history, before the entry
    ("PutItem", "ServiceUnavailable", "POST /activities"),
    ("TransactWriteItems", "ThrottlingException", "POST /activities/batch"),
    ("GetItem", "InternalServerError", "PATCH /activities/{id}"),
    ("PutItem", "ProvisionedThroughputExceededException", "PATCH /activities/{id}"),
    ("Query", "ThrottlingException", "GET /activities"),
    ("BatchGetItem", "InternalServerError", "GET /activities"),  # the org's meta items
    ("GetItem", "ServiceUnavailable", "GET /activities/{id}"),
])
def test_dynamodb_refusing_after_the_retries_is_a_503_with_retry_after_and_nothing_written(api, quick_backoff, operation, code, route):
    from tests.support.api import job

    job_id = api.record(job()).body["id"]
    wiring.reset()
    common.service()  # a new environment (its models bound), which has read nothing of the org yet
    method, path = route.split(" ")
    body = next(b for m, p, b in _routes(job_id) if m == method and p == path.replace("{id}", job_id))
    stop = _refusing(operation, code)
    try:
        status, answer, headers = _call(method, path.replace("{id}", job_id), body)
    finally:
        stop()
    assert status == 503 and int(headers["retry-after"]) >= 1, (status, answer)
    assert api.ids() == [job_id] and api.get(job_id).body["status"] == "IN_PROGRESS"


def test_the_idempotency_table_throttled_while_saving_its_record_is_a_503_and_nothing_is_written(api, idempotency_table):
    from tests.support.api import entry

    assert api.ids() == []
    stop = _refusing("PutItem", "ThrottlingException", wiring.container().idempotency.client)
    try:
        status, answer, headers = _call("POST", "/activities", entry(), key="throttled-1")
    finally:
        stop()
    assert status == 503 and headers["retry-after"] == "1", answer
    assert api.ids() == []
    assert _call("POST", "/activities", entry(), key="throttled-1")[0] == 201  # nothing of it was kept: the retry writes
    assert len(api.ids()) == 1


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dynamodb_unreachable_is_a_503_with_retry_after_on_every_route(api, idempotency_table, monkeypatch):
    import time

    from tests.support.api import job

    job_id = api.record(job()).body["id"]
    # When DynamoDB's port refuses connections (the service stopped) for a new environment
    with monkeypatch.context() as stopped:  # the endpoint only: the fixtures' table names stay
        stopped.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{_free_port()}")
        wiring.reset()
        for method, path, body in _routes(job_id) + [("POST", f"/activities/{job_id}/retry", None)]:
            for key in (None, "down-1") if method in ("POST", "PATCH") and body is not None else (None,):
                started = time.monotonic()
                status, answer, headers = _call(method, path, body, key)
                # Then every route answers 503 with Retry-After, well within the function's timeout
                assert (status, headers.get("retry-after")) == (503, "1"), (method, path, key, status, answer)
                assert time.monotonic() - started < 10
        assert _call("POST", "/activities", {"type": "USER_ACTION"})[0] == 400  # bad input is still named, not a 503
    wiring.reset()
    assert api.ids() == [job_id]


class _Blackhole:
    """A port that accepts connections and never answers: DynamoDB paused (SIGSTOP) or a network that drops answers."""

    def __init__(self) -> None:
        import socket

        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.held: list = []
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()

    def _hold(self) -> None:
        while True:
            try:
                self.held.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.mark.alone  # the 503 must come before a timeout of seconds
def test_dynamodb_not_answering_is_a_503_before_the_function_times_out(api, idempotency_table, monkeypatch):
    import time

    from samlocal.template import load

    from tests.support.api import entry

    timeout = load()["Globals"]["Function"]["Timeout"]
    hole = _Blackhole()
    try:
        with monkeypatch.context() as paused:  # the endpoint only: the fixtures' table names stay
            paused.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{hole.port}")
            wiring.reset()
            for method, path, body, key in (("POST", "/activities", entry(), "paused-1"), ("GET", "/activities", None, None)):
                started = time.monotonic()
                status, answer, headers = _call(method, path, body, key)
                took = time.monotonic() - started
                assert status == 503 and headers["retry-after"] == "1", answer
                assert took < timeout - 2, f"{method} {path} took {took:.1f} s of the function's {timeout} s"
    finally:
        hole.close()
        wiring.reset()


def test_every_dynamodb_client_gives_up_within_the_api_functions_timeout(api, idempotency_table):
    """Two calls in a row that get no answer (the request's own, then Powertools removing its record) fit in
    the shortest API function's timeout, with a second to answer."""
    from activitylog.api.common import service
    from samlocal.template import load

    resources = load()["Resources"]
    default = load()["Globals"]["Function"]["Timeout"]
    shortest = min(resources[name]["Properties"].get("Timeout", default)
                   for name in ("RecordFunction", "QueryFunction", "RetryFunction", "SettingsFunction", "SupportFunction"))
    service()  # binds the models
    clients = [store.table_connection().connection.client, store.table_connection(store.KeyItem).connection.client,
               wiring.container().idempotency.client]
    for client in clients:
        config = client.meta.config
        attempts = config.retries["total_max_attempts"]
        per_call = attempts * (config.connect_timeout + config.read_timeout) + (attempts - 1) * 1.0  # standard mode: backoff < 1 s
        assert 2 * per_call <= shortest - 1, (config.connect_timeout, config.read_timeout, attempts, shortest)


# -- how an org is stored: one object (issue 19, item 2) ------------------------------------------


def test_one_object_says_how_an_org_is_stored_and_the_store_takes_only_it(activity_table):
    import inspect

    from activitylog.inputs import RetentionChange
    from activitylog.retention.settings import RetentionSettings
    from activitylog.store import EntryStore
    from activitylog.storage import OrgStorage

    # Given an org that wrote with 8 shards, now has 2, and chose its own retention
    new_job(service_for(activity_table, 8))
    service = service_for(activity_table, 2)
    admin = Caller("org_a", "u_admin", frozenset({"activity:admin"}))
    RetentionSettings(service).change(admin, RetentionChange(hot_days=365, archive_days=3650))
    # Then one answer holds its write shards, every shard it ever wrote, and its hot and archive days
    assert service.storage("org_a") == OrgStorage("org_a", write_shards=2, read_shards=8, hot_days=365, archive_days=3650)
    # And no store operation takes a shard count or a retention of its own: they take that object
    taking = {name for name, method in inspect.getmembers(EntryStore, inspect.isfunction)
              if {"shards", "retention_days"} & set(inspect.signature(method).parameters)}
    assert taking == set()
