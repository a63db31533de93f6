"""Concurrent requests through ``activitylog serve``, in parallel execution environments.

Given the running stack, when requests arrive at the same time, then they run at once, each
in an environment process of its own (never the server's), up to the function's limit; so a
race in the service shows through the stack as it would in AWS.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.test_api import entry

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
    assert functions["ApiFunction"]["environments"] > 1  # the nine did not queue through one environment
