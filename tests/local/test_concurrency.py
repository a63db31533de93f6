"""Concurrent invocations through the local stack, as Lambda runs them.

Given the fixture stack, when requests arrive at the same time, then each runs in its own
execution environment (its own process: module state and environment variables), at once,
up to the function's concurrency limit; and an idle environment is reused warm.

The fixture function (tests/local/fixtures/functions/nap) waits at a rendezvous: only
invocations that really run at the same time meet there.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.kit import HttpClient


def nap(stack, key: str, peers: int = 1, wait: float = 0, path: str = "/nap") -> dict:
    status, answer = HttpClient(stack.url).request("GET", f"{path}?key={key}&peers={peers}&wait={wait}")
    assert status == 200, answer
    return answer


def at_once(*calls) -> list[dict]:
    """Run the calls in parallel threads; their answers in the same order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def test_parallel_requests_run_at_once_each_in_its_own_environment(fixture_stack):
    key = uuid.uuid4().hex
    answers = at_once(*[lambda: nap(fixture_stack, key, peers=2, wait=8)] * 2)
    assert [a["met"] for a in answers] == [2, 2]  # both were inside the handler at the same time
    assert answers[0]["environment"] != answers[1]["environment"]
    pids = {a["pid"] for a in answers}
    assert len(pids) == 2 and os.getpid() not in pids  # each environment is a process of its own


def test_an_idle_environment_is_reused_warm(fixture_stack):
    key = uuid.uuid4().hex
    burst = {a["environment"] for a in at_once(*[lambda: nap(fixture_stack, key, peers=2, wait=8)] * 2)}
    assert len(burst) == 2
    sequential = [nap(fixture_stack, uuid.uuid4().hex) for _ in range(3)]
    # No new cold start: one of the burst's environments, warm, its module state growing.
    assert len({a["environment"] for a in sequential}) == 1 and sequential[0]["environment"] in burst
    assert [a["invocations"] - sequential[0]["invocations"] for a in sequential] == [0, 1, 2]


def test_the_concurrency_limit_holds(fixture_stack):
    # NapFunction's ReservedConcurrentExecutions is 2: a third request waits for a free environment.
    # Three wait for each other for 4 s: without the limit they would all meet at once.
    key = uuid.uuid4().hex
    answers = sorted(at_once(*[lambda: nap(fixture_stack, key, peers=3, wait=4)] * 3), key=lambda a: a["started"])

    def running_at(moment: float) -> int:
        return sum(a["started"] <= moment < a["finished"] for a in answers)

    assert max(running_at(a["started"]) for a in answers) == 2  # two at once, never three
    assert answers[2]["started"] >= min(answers[0]["finished"], answers[1]["finished"])  # once an environment came free
    assert len({a["environment"] for a in answers}) == 2
    assert fixture_stack.describe()["functions"]["NapFunction"]["concurrency"] == 2


def test_functions_running_at_once_keep_their_own_module_state_and_variables(fixture_stack):
    # TwinFunction runs NapFunction's very code (same CodeUri) with another NAP_ONLY.
    twin_before = nap(fixture_stack, uuid.uuid4().hex, path="/nap/twin")["invocations"]
    key = uuid.uuid4().hex
    ours, twin = at_once(lambda: nap(fixture_stack, key, peers=2, wait=8), lambda: nap(fixture_stack, key, peers=2, wait=8, path="/nap/twin"))
    assert (ours["met"], twin["met"]) == (2, 2)  # ran at the same time
    assert ours["environment"] != twin["environment"] and ours["pid"] != twin["pid"]
    for answer, function, value in ((ours, "NapFunction", "nap"), (twin, "TwinFunction", "twin")):
        for moment in ("before", "after"):  # "after": once the other function had run meanwhile
            variables = answer["variables"][moment]
            assert variables["NAP_ONLY"] == value and variables["AWS_LAMBDA_FUNCTION_NAME"].endswith(function), (moment, variables)
    for _ in range(3):
        nap(fixture_stack, uuid.uuid4().hex)
    assert nap(fixture_stack, uuid.uuid4().hex, path="/nap/twin")["invocations"] == twin_before + 2  # NapFunction's calls never count here


def test_a_function_invokes_another_synchronously_from_its_environment(fixture_stack):
    def invoke(function: str) -> dict:
        status, answer = HttpClient(fixture_stack.url).request("GET", f"/nap/twin?key={uuid.uuid4().hex}&invoke={function}")
        assert status == 200, answer
        return answer

    answer = invoke(fixture_stack.runtime.find("NapFunction").arn)
    assert answer["function_error"] is None
    assert answer["payload"]["variables"]["after"]["NAP_ONLY"] == "nap" and answer["payload"]["environment"] != answer["environment"]
    broken = invoke("EchoFunction")  # Echo's handler fails on an event without a routeKey
    assert broken["function_error"] == "Unhandled" and broken["payload"]["errorType"] == "KeyError"
    assert "echo/app.py" in broken["payload"]["stackTrace"][0]  # the function's frames, not the runtime's
    assert invoke("NoSuchFunction") == {"error": "ResourceNotFoundException"}


# --- an environment's life on its own (no stack: handlers that call no AWS service) ----------------


def runtime_for(code_dir, source: str):
    from samlocal.lambdas import FunctionSpec, LambdaRuntime

    (code_dir / "app.py").write_text(source)
    return LambdaRuntime([FunctionSpec("Plain", "plain", code_dir, "app.handler")])


def test_a_failed_init_is_the_invocations_error_and_the_next_one_starts_afresh(tmp_path):
    from samlocal.lambdas import FunctionError

    runtime = runtime_for(tmp_path, "import no_such_module\n")
    try:
        with pytest.raises(FunctionError) as failed:
            runtime.invoke("Plain", {})
        assert failed.value.document["errorType"] == "Runtime.ImportModuleError" and "no_such_module" in failed.value.document["errorMessage"]
        assert runtime.pools["Plain"].size == 0  # Lambda resets an environment whose init failed
        (tmp_path / "app.py").write_text("import os\n\ndef handler(event, context):\n    return {'pid': os.getpid(), 'echo': event}\n")
        assert runtime.invoke("Plain", {"a": 1})["echo"] == {"a": 1}
    finally:
        runtime.stop()


def test_an_environment_whose_process_exits_is_an_error_and_is_replaced(tmp_path):
    from samlocal.lambdas import FunctionError

    runtime = runtime_for(tmp_path, "import os\n\ndef handler(event, context):\n    if event.get('exit'):\n        os._exit(3)\n    return os.getpid()\n")
    try:
        first = runtime.invoke("Plain", {})
        with pytest.raises(FunctionError) as failed:
            runtime.invoke("Plain", {"exit": True})
        assert failed.value.document["errorType"] == "Runtime.ExitError" and "status 3" in failed.value.document["errorMessage"]
        assert runtime.invoke("Plain", {}) != first  # a new environment (a cold start), not the dead one
    finally:
        runtime.stop()


def test_an_idle_environment_killed_while_warm_is_replaced_not_handed_an_invocation(tmp_path):
    # As in Lambda: an environment that died between invocations is not reused; the next one is a cold start.
    import signal
    import time

    runtime = runtime_for(tmp_path, "import os\n\ndef handler(event, context):\n    return os.getpid()\n")
    try:
        first = runtime.invoke("Plain", {})
        os.kill(first, signal.SIGKILL)
        time.sleep(0.2)  # the kill lands
        assert runtime.invoke("Plain", {}) != first  # not a Runtime.ExitError
        assert runtime.pools["Plain"].size == 1
    finally:
        runtime.stop()
