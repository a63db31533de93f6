"""The local stack as a subprocess (``activitylog serve``, what ``make dev`` runs) and polling, for the
e2e, fuzz and chaos tiers. ``api_stack`` is here because the e2e and fuzz tiers each start one (their conftests
import it); the e2e tier's other stack is in tests/e2e/conftest.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from samlocal.auth import DevKey
from tests.support.kit import HttpClient

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TEMPLATE = ROOT / "tests" / "local" / "fixtures" / "template.yaml"  # the local runtime's fixture template
DEMO_SEED = 300  # demo entries seeded at start; the five example rows are among them
DEMO_HISTORY = 400  # older demo entries over two years: archived, then compacted into the warm tier (make dev: 1500)
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

    def cli_here(self, *args: str) -> tuple[int, str]:
        """The same command run by the CLI's own ``main`` in this process: its exit code and what it printed. For
        fixtures that set up many orgs (a new interpreter per command cost seconds each on 2 cores)."""
        from activitylog_local.cli import main

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["--data-dir", str(self.data_dir), *args])
        return code, printed.getvalue()


def start_stack(tmp: Path, *serve_args: str, in_memory: bool = True) -> RunningStack:
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


def stop_stack(stack: RunningStack) -> None:
    stack.process.send_signal(signal.SIGINT)
    try:
        stack.process.wait(timeout=60)  # a loaded 2-core machine takes a while to end every environment
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait()


def wait_for(condition, timeout: float = 15.0, interval: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")


HOT_TABLE_DAYS = 90

def running_api_stack(tmp: Path, seeded: bool = True, provider_api_base: str = "", *serve_args: str) -> Iterator[RunningStack]:
    """template.yaml's stack; ``seeded``: the demo organization seeded (DEMO_SEED entries over 30 days through the
    API, DEMO_HISTORY older ones in the warm tier and, between HotTableDays and 30 days ago, in the table); expired
    entries are deleted within a second, as TTL does in AWS within days.

    Exports of more than EXPORT_INLINE_ROWS rows run in the background (the page's Export CSV shows both kinds).
    ``provider_api_base``: where the recovery of missed webhooks reaches Stripe's and Square's APIs (a local fake);
    ``serve_args``: more of ``activitylog serve``'s flags.
    """
    seed = ["--seed-count", str(DEMO_SEED), "--seed-days", "30", "--seed-history", str(DEMO_HISTORY)] if seeded else ["--no-seed"]
    # Failed webhook writes come back after 1 s, 2 s, 4 s … (not 10 s, …): the DLQ is reached in seconds.
    stack = start_stack(tmp, *seed,
                   "--parameter", "WebhookRetrySeconds=1", "--parameter", f"ExportInlineRows={EXPORT_INLINE_ROWS}",
                   # The table holds 90 days (tests record entries up to 90 days old; older ones are the warm tier's).
                   "--parameter", f"HotTableDays={HOT_TABLE_DAYS}",
                   "--ttl-sweep-seconds", "1", "--poll-seconds", "0.2",
                   *(["--parameter", "ProviderApiBases=" + json.dumps(dict.fromkeys(("stripe", "square"), provider_api_base))]
                     if provider_api_base else []), *serve_args)
    yield stack
    stop_stack(stack)
    assert stack.process.returncode == 0, stack.log.read_text()[-4000:]


# One per test session (per worker under make test's -n 2): a package fixture was started again each time a
# worker came back to the e2e tier after another tier's file.
@pytest.fixture(scope="session")
def provider_api():
    """The providers' event APIs faked on 127.0.0.1 (tests/support/provider_api.py), which the session's stack recovers from."""
    from tests.support.provider_api import ProviderApi

    with ProviderApi() as api:
        yield api


@pytest.fixture(scope="session")
def api_stack(tmp_path_factory, provider_api):
    """The seeded stack (``running_api_stack``), its missed-webhook recovery pointed at ``provider_api``; streams may
    deliver to receivers on 127.0.0.1 (tests/e2e/test_streams.py), private and metadata addresses still refused."""
    yield from running_api_stack(tmp_path_factory.mktemp("api-stack"), True, provider_api.base, "--allow-loopback-streams")
