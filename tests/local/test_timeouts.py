"""A function's Timeout, enforced as Lambda enforces it.

Given a function that runs longer than its template's Timeout, when it is invoked, then
Lambda stops it at the timeout: its execution environment is ended (the next invocation is
a cold start), the caller gets Lambda's ``Sandbox.Timedout`` error, and API Gateway's HTTP
API answers that function error with a 500. API Gateway gives up on its own after its
integration timeout (30 s) with a 503, however long the function may still run.
"""

from __future__ import annotations

import os
import time

import pytest

from samlocal.gateway import Gateway, Route
from samlocal.lambdas import FunctionError, FunctionSpec, LambdaRuntime

pytestmark = pytest.mark.alone  # timeouts of a few seconds: measured with nothing running beside them

SLEEPER = """import os, time

def handler(event, context):
    time.sleep(float(event.get("sleep") or (event.get("queryStringParameters") or {}).get("sleep", 0)))
    return {"statusCode": 200, "body": str(os.getpid()), "headers": {"content-type": "text/plain"}}
"""


@pytest.fixture
def runtime(tmp_path):
    (tmp_path / "app.py").write_text(SLEEPER)
    runtime = LambdaRuntime([FunctionSpec("Sleeper", "sleeper", tmp_path, "app.handler", timeout=1)])
    yield runtime
    runtime.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is ended too: its parent has not reaped it yet
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_function_past_its_timeout_is_stopped_with_lambdas_timeout_error(runtime):
    first = int(runtime.invoke("Sleeper", {})["body"])
    started = time.monotonic()
    with pytest.raises(FunctionError) as failed:
        runtime.invoke("Sleeper", {"sleep": 20})
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"the invocation ran {elapsed:.1f} s past its 1 s timeout"
    document = failed.value.document
    assert document["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in document["errorMessage"]
    assert not alive(first), "the timed-out environment's process is still running"
    assert runtime.pools["Sleeper"].size == 0
    assert int(runtime.invoke("Sleeper", {})["body"]) != first  # a cold start in a new environment


def test_the_http_api_answers_a_timed_out_function_with_500(runtime):
    gateway = Gateway([Route("GET", "/sleep", "Sleeper", None)], runtime, {})
    assert gateway.handle("GET", "/sleep", [("host", "localhost")]).status == 200
    started = time.monotonic()
    answer = gateway.handle("GET", "/sleep?sleep=20", [("host", "localhost")])
    assert time.monotonic() - started < 4
    assert (answer.status, answer.json()) == (500, {"message": "Internal Server Error"})


def test_the_http_api_gives_up_after_its_integration_timeout_with_503(tmp_path):
    (tmp_path / "app.py").write_text(SLEEPER)
    runtime = LambdaRuntime([FunctionSpec("Sleeper", "sleeper", tmp_path, "app.handler", timeout=10)])
    try:
        gateway = Gateway([Route("GET", "/sleep", "Sleeper", None)], runtime, {}, integration_timeout=1)
        started = time.monotonic()
        answer = gateway.handle("GET", "/sleep?sleep=3", [("host", "localhost")])
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, f"the gateway waited {elapsed:.1f} s past its 1 s integration timeout"
        assert (answer.status, answer.json()) == (503, {"message": "Service Unavailable"})
    finally:
        runtime.stop()


def test_a_cold_starts_init_has_its_own_time_not_the_functions_timeout(tmp_path):
    # Lambda gives the init phase (imports, module state) its own 10 s; the Timeout counts the handler only.
    (tmp_path / "app.py").write_text("import time\ntime.sleep(2)  # a slow import\n\ndef handler(event, context):\n    return 'ok'\n")
    runtime = LambdaRuntime([FunctionSpec("SlowInit", "slow-init", tmp_path, "app.handler", timeout=1)])
    try:
        assert runtime.invoke("SlowInit", {}) == "ok"
    finally:
        runtime.stop()


def test_an_environment_killed_while_it_starts_is_the_invocations_runtime_error(tmp_path, monkeypatch):
    # The process is gone before the runtime hands it its configuration: Lambda's Runtime.ExitError, not a crash of the gateway.
    from samlocal import environments

    (tmp_path / "app.py").write_text(SLEEPER)
    runtime = LambdaRuntime([FunctionSpec("Sleeper", "sleeper", tmp_path, "app.handler", timeout=1)])
    popen = environments.subprocess.Popen

    def killed_at_once(*args, **kwargs):
        process = popen(*args, **kwargs)
        process.kill()
        process.wait()
        return process

    monkeypatch.setattr(environments.subprocess, "Popen", killed_at_once)
    try:
        with pytest.raises(FunctionError) as failed:
            runtime.invoke("Sleeper", {})
        assert failed.value.document["errorType"] == "Runtime.ExitError"
    finally:
        runtime.stop()
