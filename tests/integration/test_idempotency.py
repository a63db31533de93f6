"""Retried writes with an Idempotency-Key are answered from the first result (Powertools, DynamoDB Local)."""

from __future__ import annotations

import pytest

from activitylog import idempotency, wiring
from activitylog.errors import Conflict
from tests.support.kit import LambdaContext


def run_once(*args, **options):
    """``idempotency.run_once`` with this container's records (the functions pass ``container().idempotency``)."""
    return idempotency.run_once(*args, persistence=lambda: wiring.container().idempotency, **options)


def counting(result: dict):
    calls = []

    def operation() -> dict:
        calls.append(1)
        return {**result, "call": len(calls)}

    return operation, calls


def test_a_retry_with_the_same_key_is_answered_without_running_again(idempotency_table):
    operation, calls = counting({"id": "01M8AP55CB939ADHT5N4N8XQT2"})
    first = run_once("org_a", "POST /activities", "key-1", {"event": "x"}, LambdaContext(), operation)
    again = run_once("org_a", "POST /activities", "key-1", {"event": "x"}, LambdaContext(), operation)
    assert first == again == {"id": "01M8AP55CB939ADHT5N4N8XQT2", "call": 1}
    assert len(calls) == 1


def test_keys_are_scoped_by_org_and_route(idempotency_table):
    operation, calls = counting({})
    run_once("org_a", "POST /activities", "key-2", {"event": "x"}, LambdaContext(), operation)
    run_once("org_b", "POST /activities", "key-2", {"event": "x"}, LambdaContext(), operation)
    run_once("org_a", "POST /activities/batch", "key-2", {"event": "x"}, LambdaContext(), operation)
    assert len(calls) == 3


def test_reusing_a_key_with_another_body_is_a_conflict(idempotency_table):
    operation, calls = counting({})
    run_once("org_a", "POST /activities", "key-3", {"event": "x"}, LambdaContext(), operation)
    with pytest.raises(Conflict) as caught:
        run_once("org_a", "POST /activities", "key-3", {"event": "y"}, LambdaContext(), operation)
    assert caught.value.field == "idempotency-key"
    assert len(calls) == 1


def test_a_failed_write_is_not_remembered(idempotency_table):
    calls = []

    def flaky() -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("throttled")
        return {"ok": True}

    with pytest.raises(RuntimeError):
        run_once("org_a", "POST /activities", "key-4", {"event": "x"}, LambdaContext(), flaky)
    assert run_once("org_a", "POST /activities", "key-4", {"event": "x"}, LambdaContext(), flaky) == {"ok": True}


# -- the key decides the entry, whatever state Powertools' record is in (issue 18, item 25) ------------------
#
# Each test plays one way the first attempt can end after its write landed: the completion of
# Powertools' record fails (DynamoDB refuses the UpdateItem), or the environment is killed before
# it (the record stays INPROGRESS). Retries get 409 "still running" until the lock expires with the
# first attempt's invocation (4 s here), and the next retry must write nothing new.

import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from activitylog import idempotency  # noqa: E402
from activitylog.api import common  # noqa: E402
from activitylog.inputs import EntryUpdate, NewEntry  # noqa: E402
from activitylog.service import Caller  # noqa: E402

from .api_events import api_event, handler_module  # noqa: E402
from tests.support.api import WRITER, entry, job  # noqa: E402

LOCK_SECONDS = 3.0  # what the first attempt's invocation has left: its lock on the key expires with it


class Killed(BaseException):
    """The execution environment ending mid-request: no ``except Exception`` runs, no record is cleaned up."""


class Invocation(LambdaContext):
    """An invocation with ``LOCK_SECONDS`` left when Powertools first asks (it locks the key that long): a
    cold start's imports before that do not shorten the lock the test relies on."""

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self._left = None

    def get_remaining_time_in_millis(self) -> int:
        if self._left is None:
            self._left = time.monotonic() + LOCK_SECONDS
        return max(0, int((self._left - time.monotonic()) * 1000))


def send(method: str, path: str, body, key: str) -> tuple[int, dict, dict]:
    event = api_event(method, path, body=body, claims=WRITER, headers={"Idempotency-Key": key})
    response = handler_module(method, path).lambda_handler(event, Invocation())
    return response["statusCode"], json.loads(response["body"]), {k.lower(): v for k, v in (response.get("headers") or {}).items()}


@contextmanager
def completion(how: str):
    """The first attempt's end after its operation ran: "refused" (DynamoDB refuses the record's completing
    UpdateItem) or "killed" (the environment ends before it)."""
    persistence = wiring.container().idempotency
    if how == "killed":
        original = persistence.save_success

        def killed(*_, **__):
            raise Killed()

        persistence.save_success = killed
        try:
            yield
        finally:
            persistence.save_success = original
        return
    events = persistence.client.meta.events

    def refuse(request, **_):
        from tests.support.faults import answer as _answer

        return _answer(request, 400, "ValidationException")

    events.register("before-send.dynamodb.UpdateItem", refuse, unique_id="refuse-completion")
    try:
        yield
    finally:
        events.unregister("before-send.dynamodb.UpdateItem", unique_id="refuse-completion")


def first_attempt_dies(method: str, path: str, body, key: str, how: str) -> None:
    with completion(how):
        try:
            send(method, path, body, key)
        except (Killed, Exception):  # noqa: BLE001 - whatever the caller saw, it retries
            pass


def retry_after_the_lock(method: str, path: str, body, key: str) -> tuple[int, dict, dict]:
    status, answer, headers = send(method, path, body, key)
    assert status == 409 and "still running" in answer["message"], answer  # the first attempt's lock
    time.sleep(LOCK_SECONDS + 0.2)
    return send(method, path, body, key)


@pytest.mark.parametrize("how", ["refused", "killed"])
def test_a_keyed_entry_whose_first_attempt_died_after_writing_is_stored_once(api, idempotency_table, how):
    body = entry(event=f"Contact updated · {how}")
    first_attempt_dies("POST", "/activities", body, f"one-{how}", how)
    assert len(api.ids()) == 1  # the first attempt's write landed
    status, answer, _ = retry_after_the_lock("POST", "/activities", body, f"one-{how}")
    assert status == 201, answer
    assert api.ids() == [answer["id"]]


@pytest.mark.parametrize("how", ["refused", "killed"])
def test_a_keyed_batch_whose_first_attempt_died_after_writing_is_stored_once(api, idempotency_table, how):
    body = {"entries": [entry(event=f"Contact {n} updated") for n in range(3)] + [entry(status="DONE")]}
    first_attempt_dies("POST", "/activities/batch", body, f"batch-{how}", how)
    assert len(api.ids()) == 3
    status, answer, _ = retry_after_the_lock("POST", "/activities/batch", body, f"batch-{how}")
    assert status == 207 and answer["accepted"] == 3, answer
    assert sorted(api.ids()) == sorted(r["id"] for r in answer["results"] if r["status"] == "accepted")


def test_a_duplicated_job_start_leaves_no_second_run_in_progress(api, idempotency_table):
    # Given a job start whose first attempt was written and then killed, and the retry's answer
    first_attempt_dies("POST", "/activities", job(), "start-7", "killed")
    status, started, _ = retry_after_the_lock("POST", "/activities", job(), "start-7")
    assert status == 201, started
    # When the job finishes under the id its writer was given
    assert api.patch(started["id"], {"status": "SUCCESS"}).status == 200
    # Then no run of it is left IN_PROGRESS (the sweeper would call it stalled hours later)
    assert api.ids(status="IN_PROGRESS") == []
    assert api.ids() == [started["id"]]


def test_a_keyed_update_is_applied_once_even_when_retried_after_later_updates(api, idempotency_table):
    job_id = api.record(job()).body["id"]
    # Given progress whose first attempt was applied and then killed
    first_attempt_dies("PATCH", f"/activities/{job_id}", {"metadata": {"processed": 100}}, "progress-100", "killed")
    # And later progress applied meanwhile
    assert api.patch(job_id, {"metadata": {"processed": 200}}).status == 200
    # When the first one is retried after its lock expired
    status, answer, _ = retry_after_the_lock("PATCH", f"/activities/{job_id}", {"metadata": {"processed": 100}}, "progress-100")
    # Then it is answered, and the later progress stands
    assert status == 200, answer
    assert api.get(job_id).body["metadata"]["processed"] == 200


def test_a_keyed_update_retried_after_the_job_finished_is_answered_not_refused(api, idempotency_table):
    job_id = api.record(job()).body["id"]
    first_attempt_dies("PATCH", f"/activities/{job_id}", {"metadata": {"processed": 100}}, "progress-a", "refused")
    assert api.patch(job_id, {"status": "SUCCESS", "metadata": {"processed": 1000}}).status == 200
    status, answer, _ = retry_after_the_lock("PATCH", f"/activities/{job_id}", {"metadata": {"processed": 100}}, "progress-a")
    assert status == 200 and answer["status"] == "SUCCESS" and answer["metadata"]["processed"] == 1000, answer


def test_the_still_running_answer_tells_the_client_when_to_retry(api, idempotency_table):
    first_attempt_dies("POST", "/activities", entry(), "wait-1", "killed")
    status, answer, headers = send("POST", "/activities", entry(), "wait-1")
    assert status == 409 and answer["field"] == "idempotency-key"
    assert 1 <= int(headers["retry-after"]) <= 15  # at most the function's timeout: the lock ends with the first invocation


def racing(count: int, attempt) -> list:
    """Run ``attempt(n)`` in ``count`` threads released together; the errors they raised."""
    failures, start = [], threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            attempt(n)
        except Exception as error:  # noqa: BLE001
            failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


SERVICE = Caller("org_acme", "svc_contacts", frozenset({"activity:write"}))


def test_attempts_of_one_key_racing_with_no_idempotency_record_store_one_entry(api, idempotency_table):
    """Eight attempts of keyed writes at once, each as if Powertools had no record of the others (its record
    lost, expired or never completed): the key alone decides, so one entry per position, one id in every answer."""
    service = common.service()
    document = NewEntry.model_validate(entry(event="Contact updated · raced"))
    batch = [entry(event=f"raced {n}") for n in range(5)]
    answers, batches = [], []

    def attempt(n: int) -> None:
        if n % 2:
            key = idempotency.WriteKey("POST /activities", "race-1", document.model_dump(mode="json"))
            answers.append(service.record(SERVICE, document, key=key).id)
        else:
            result = service.record_batch(SERVICE, batch, key=idempotency.WriteKey("POST /activities/batch", "race-2", batch))
            batches.append([r["id"] for r in result["results"]])

    assert racing(8, attempt) == []
    assert len(answers) == 4 and len(set(answers)) == 1
    assert len(batches) == 4 and all(ids == batches[0] for ids in batches)
    assert sorted(api.ids()) == sorted(answers[:1] + batches[0])


def test_an_update_under_one_key_racing_with_itself_is_applied_once(api, idempotency_table):
    service = common.service()
    job_id = api.record(job()).body["id"]
    update = EntryUpdate(metadata={"processed": 5})
    key = idempotency.WriteKey(f"PATCH /activities/{job_id}", "p-5", update.model_dump(mode="json"))
    # Six attempts of one keyed update at once all succeed
    assert racing(6, lambda n: service.update(SERVICE, job_id, update, key=key)) == []
    assert api.get(job_id).body["metadata"]["processed"] == 5
    # And after a later update, the same key once more changes nothing
    service.update(SERVICE, job_id, EntryUpdate(metadata={"processed": 9}))
    assert service.update(SERVICE, job_id, update, key=key).metadata["processed"] == 9
    assert api.get(job_id).body["metadata"]["processed"] == 9


def test_key_markers_use_the_idempotency_tables_own_key_and_expiry():
    """The markers live beside Powertools' records: the table's one key attribute, and its TTL attribute,
    so DynamoDB removes a key's marker as it removes the key's record."""
    from activitylog import store
    from samlocal.template import load

    table = load()["Resources"]["IdempotencyTable"]["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == [store.KeyItem._hash_keyname]
    assert store.KeyItem.expiration.attr_name == table["TimeToLiveSpecification"]["AttributeName"]
