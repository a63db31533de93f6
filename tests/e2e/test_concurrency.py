"""Concurrent requests through ``activitylog serve``, in parallel execution environments.

Given the running stack, when requests arrive at the same time, then they run at once, each
in an environment process of its own (never the server's), up to the function's limit; so a
race in the service shows through the stack as it would in AWS.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.support.entries import NOW, entry, iso

pytestmark = pytest.mark.e2e


def at_once(*calls) -> list:
    """Run the calls in parallel threads released together; their answers in the same order."""
    start = threading.Barrier(len(calls))

    def released(call):
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(released, call) for call in calls]]


def test_parallel_requests_meet_in_separate_environment_processes(sources_stack):
    key = uuid.uuid4().hex
    answers = at_once(*[lambda: sources_stack.request("GET", f"/nap?key={key}&peers=2&wait=8")] * 2)
    assert [status for status, _ in answers] == [200, 200]
    assert [answer["met"] for _, answer in answers] == [2, 2]  # both handlers ran at the same time
    pids = {answer["pid"] for _, answer in answers}
    assert len(pids) == 2 and sources_stack.process.pid not in pids


def test_concurrent_completions_of_one_job_leave_exactly_one_terminal_status(api_stack):
    writer = api_stack.token("org_race", "u_race", scopes=("read", "write"))
    status, job = api_stack.request("POST", "/activities", writer, entry("BACKGROUND_JOB", "IN_PROGRESS", None))
    assert status == 201
    statuses = ["SUCCESS", "FAILED", "WARNING"] * 3

    def complete(status: str):
        return lambda: api_stack.request("PATCH", f"/activities/{job['id']}", writer, {"status": status, "metadata": {f"by_{status}": 1}})

    answers = at_once(*[complete(s) for s in statuses])
    final = api_stack.request("GET", f"/activities/{job['id']}", writer)[1]
    # 200 only for the winner and repeats of its own status (unchanged); every other status 409.
    assert {s for s, (code, _) in zip(statuses, answers) if code == 200} == {final["status"]}
    assert {code for code, _ in answers} == {200, 409}
    assert final["metadata"] == {f"by_{final['status']}": 1}
    functions = api_stack.request("GET", "/_local/stack")[1]["functions"]
    assert functions["RecordFunction"]["environments"] > 1  # the nine did not queue through one environment


def big(label: str) -> dict:
    """Job metadata too large for an item: the service keeps it in S3 (moto, through the stack)."""
    return {"log": "".join(f"{label}{n:x}" for n in range(40_000))}


def test_concurrent_final_reports_over_an_offloaded_detail_leave_the_winners_error_and_detail(api_stack):
    writer = api_stack.token("org_race_detail", "svc_jobs", scopes=("read", "write"))
    status, job = api_stack.request("POST", "/activities", writer, entry("BACKGROUND_JOB", "IN_PROGRESS", None, metadata=big("start")))
    assert status == 201, job
    statuses = ["SUCCESS", "FAILED", "WARNING"] * 2

    def report(status: str):
        body = {"status": status, "error": {"message": f"by {status}"}, "metadata": big(status)}
        return lambda: api_stack.request("PATCH", f"/activities/{job['id']}", writer, body)

    answers = at_once(*[report(s) for s in statuses])
    assert all(code in (200, 409) for code, _ in answers), answers
    final = api_stack.request("GET", f"/activities/{job['id']}", writer)[1]
    # The entry carries exactly its winning report: that report's own error and detail
    assert final["error"] == {"message": f"by {final['status']}"}
    assert final["metadata"]["log"] == big(final["status"])["log"]


def test_pages_read_while_jobs_finish_in_parallel_list_every_entry_exactly_once(api_stack):
    writer = api_stack.token("org_race_pages", "svc_jobs", scopes=("read", "write"))
    documents = [entry("BACKGROUND_JOB", "IN_PROGRESS" if n % 2 else "SUCCESS", None, when=NOW - timedelta(minutes=10, seconds=n))
                 for n in range(40)]
    status, answer = api_stack.request("POST", "/activities/batch", writer, {"entries": documents})
    assert status == 200, answer
    written = [r["id"] for r in answer["results"]]
    running = [i for n, i in enumerate(written) if n % 2]
    expected = sorted(written, reverse=True)

    def finish(jobs: list[str]) -> None:
        for job_id in jobs:
            code, body = api_stack.request("PATCH", f"/activities/{job_id}", writer, {"status": "FAILED", "error": {"message": "x"}})
            assert code == 200, body

    def page_through() -> list[str]:
        listed, cursor = [], None
        while True:
            query = f"type=BACKGROUND_JOB&from={iso(NOW - timedelta(hours=1))}&limit=4" + (f"&cursor={cursor}" if cursor else "")
            code, body = api_stack.request("GET", f"/activities?{query}", writer)
            assert code == 200, body
            listed += [i["id"] for i in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                return listed

    # When two workers finish the jobs while two readers page through them, in parallel environments
    passes = at_once(lambda: finish(running[0::2]), lambda: finish(running[1::2]), page_through, page_through)[2:]
    passes.append(page_through())
    # Then every pass listed each entry exactly once, newest first
    for listed in passes:
        assert listed == expected


def test_parallel_attempts_of_one_keyed_write_all_end_with_its_one_entry(api_stack):
    """Six clients send one keyed write and one keyed job start at once, as the README says to: on a 409
    "still running" they send the same request again after a pause. Every client ends with the same answer."""
    import time

    writer = api_stack.token("org_keyed_race", "svc_writer", scopes=("read", "write"))
    document = entry("USER_ACTION", "SUCCESS", None, event="Contact updated · sent six times")
    start = entry("BACKGROUND_JOB", "IN_PROGRESS", None, event="SYNC_SQUARE_STOCK · sent six times")

    def send(body: dict, key: str):
        def attempt():
            for _ in range(60):
                status, answer = api_stack.request("POST", "/activities", writer, body, headers={"Idempotency-Key": key})
                if status != 409:
                    return status, answer
                assert "still running" in answer["message"], answer
                time.sleep(0.5)
            raise AssertionError("still running after 30 s")
        return attempt

    answers = at_once(*[send(document, "six-1")] * 6, *[send(start, "six-2")] * 6)
    assert {status for status, _ in answers} == {201}
    assert len({answer["id"] for _, answer in answers[:6]}) == 1 and len({answer["id"] for _, answer in answers[6:]}) == 1
    listed = api_stack.request("GET", f"/activities?from={iso(NOW - timedelta(days=1))}&limit=200", writer)[1]["items"]
    assert sorted(i["id"] for i in listed) == sorted({answers[0][1]["id"], answers[6][1]["id"]})
