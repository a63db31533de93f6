"""The local stack, started once per session as ``activitylog serve`` and driven over HTTP.

Each stack is a real subprocess (its own DynamoDB Local in memory, moto, free ports, a
temporary data folder with its own dev key), exactly what ``make dev`` runs; tests mint
tokens with that key and talk to it with plain HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from samlocal.auth import DevKey
from tests.support.kit import HttpClient
from tests.local.conftest import wait_for  # noqa: F401 - the e2e tests poll the same way

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TEMPLATE = ROOT / "tests" / "local" / "fixtures" / "template.yaml"
DEMO_SEED = 300  # demo entries seeded at start; the five example rows are among them
EXPORT_INLINE_ROWS = 50  # template.yaml's ExportInlineRows for the session's stack (deployed: 10,000)


@dataclass
class RunningStack:
    url: str
    data_dir: Path
    issuer: str
    audience: str
    process: subprocess.Popen
    log: Path

    @property
    def key(self) -> DevKey:
        return DevKey.load_or_create(self.data_dir)

    def token(self, org: str, user: str = "u_e2e", scopes=("read", "write"), name: Optional[str] = None, **kwargs) -> str:
        return self.key.mint(org=org, user=user, name=name, scopes=scopes, issuer=self.issuer, audience=self.audience, **kwargs)

    def request(self, method: str, path: str, token: Optional[str] = None, body: Any = None, raw: Optional[bytes] = None,
                headers: Optional[dict[str, str]] = None) -> tuple[int, Any]:
        return HttpClient(self.url).request(method, path, body, headers, token=token, raw=raw)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "activitylog_local.cli", "--data-dir", str(self.data_dir), *args],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)


def _start(tmp: Path, *serve_args: str, in_memory: bool = True) -> RunningStack:
    log = tmp / "serve.log"
    (tmp / "stack.json").unlink(missing_ok=True)  # a stack killed before (tests/e2e/test_durability.py) left its own
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "activitylog_local.cli", "--data-dir", str(tmp), "serve", "--port", "0",
             *(["--in-memory"] if in_memory else []), *serve_args],
            stdout=output, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    state = tmp / "stack.json"
    deadline = time.monotonic() + 180
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"activitylog serve did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    info = json.loads(state.read_text())
    return RunningStack(info["url"], tmp, info["issuer"], info["audience"], process, log)


def _stop(stack: RunningStack) -> None:
    stack.process.send_signal(signal.SIGINT)
    try:
        stack.process.wait(timeout=60)  # a loaded 2-core machine takes a while to end every environment
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait()


@pytest.fixture(scope="session")
def api_stack(tmp_path_factory):
    """template.yaml's stack with the demo organization seeded (DEMO_SEED entries over 30 days); expired
    entries are deleted within a second, as TTL does in AWS within days.

    Exports of more than EXPORT_INLINE_ROWS rows run in the background (the page's Export CSV shows both kinds).
    """
    # Failed webhook writes come back after 1 s, 2 s, 4 s … (not 10 s, …): the DLQ is reached in seconds.
    stack = _start(tmp_path_factory.mktemp("api-stack"), "--seed-count", str(DEMO_SEED), "--seed-days", "30",
                   "--parameter", "WebhookRetrySeconds=1", "--parameter", f"ExportInlineRows={EXPORT_INLINE_ROWS}",
                   "--ttl-sweep-seconds", "1", "--poll-seconds", "0.2")
    yield stack
    _stop(stack)
    assert stack.process.returncode == 0, stack.log.read_text()[-4000:]


@pytest.fixture(scope="session")
def sources_stack(tmp_path_factory):
    """The fixture template's stack: a scheduled function, an SQS consumer with a DLQ, and more."""
    stack = _start(tmp_path_factory.mktemp("sources-stack"), "--template", str(FIXTURE_TEMPLATE), "--no-seed", "--poll-seconds", "0.1")
    yield stack
    _stop(stack)
