"""Every operation of the served OpenAPI document, fuzzed by schemathesis: no 5xx, and every
answer's status and body are ones the document describes.

Schemathesis runs as its own command (``schemathesis run``), the way it is used against a
deployed API; its pytest plugin cannot load a schema from a session fixture on pytest 9.2
(``request.node._nodeid`` is gone). A failure prints schemathesis' report, with a curl
line that reproduces each case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fuzz import FUZZ_ORG
from tests.support.stack import wait_for

ROOT = Path(__file__).resolve().parents[2]

SEED = 20261127  # fixed: a failure here reproduces with the same command
MAX_EXAMPLES = 10  # per operation and phase; sized so the tier stays near 90 s on 2 cores as operations are added (42 with privacy settings and erasures), every write now sealed under its subjects' keys
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


def schemathesis(api_stack, token: str, tmp_path: Path, secrets: dict, *options: str, max_examples: int = MAX_EXAMPLES):
    """``schemathesis run`` against the stack's document with ``token``; webhook deliveries signed by tests/fuzz/hooks.py."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--no-color", "run", f"{api_stack.url}/openapi.json",
        "--checks", CHECKS,
        "--mode", "all",  # positive and negative data
        "--seed", str(SEED),
        "--max-examples", str(max_examples),
        "--workers", "1",
        "--generation-database", "none",  # no examples carried over from an earlier run
        "--header", f"Authorization: Bearer {token}",
        # A function's first request starts its execution environment (a process importing its
        # code): seconds on a loaded 2-core machine, past schemathesis' 10 s default.
        "--request-timeout", "60",
        *options,
    ]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks", "PYTHONPATH": str(ROOT),
                   "FUZZ_STACK_URL": api_stack.url, "FUZZ_ORG": FUZZ_ORG, "FUZZ_SECRETS": json.dumps(secrets),
                   "FUZZ_TALLY": str(tmp_path / "tally.jsonl")}
    # In a temporary folder: schemathesis keeps its replay files under ./.schemathesis
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-4000:]
    return result.stdout


def test_every_operation_answers_as_its_document_says(api_stack, fuzz_token, webhook_secrets, tmp_path):
    # Webhook deliveries among them signed, unsigned and signed with another secret (tests/fuzz/hooks.py).
    dead_before = api_stack.request("GET", "/_local/queues/WebhookDeadLetters")[1]["visible"]  # the session stack's e2e poison, if any
    report = schemathesis(api_stack, fuzz_token, tmp_path, webhook_secrets)
    assert "POST /webhooks/{provider}/{org_id}" in report
    # Deliveries signed with the org's secret got past the signature: each provider's were acknowledged...
    tally = [json.loads(line) for line in (tmp_path / "tally.jsonl").read_text().splitlines()] if (tmp_path / "tally.jsonl").exists() else []
    acknowledged = {(line["provider"]) for line in tally if line["status"] == 200}
    assert acknowledged == {"stripe", "square", "fedex"}, tally
    # ... and the ingest took every acknowledged one: the queue drains, nothing dead-lettered.
    def drained():
        queue, dead = (api_stack.request("GET", f"/_local/queues/{name}")[1] for name in ("WebhookQueue", "WebhookDeadLetters"))
        return (queue["visible"] + queue["in_flight"] == 0, dead["visible"] + dead["in_flight"] - dead_before)
    assert wait_for(lambda: (lambda done: done if done[0] else None)(drained()), timeout=90)[1] == 0, "deliveries dead-lettered"


@pytest.mark.parametrize("scopes", [("support",), ("admin",), ("read", "write")], ids=lambda s: "+".join(s))
def test_support_and_settings_answer_each_scope_as_documented(api_stack, webhook_secrets, tmp_path, scopes):
    # A token holding only one route's scope (or neither): the route answers it, or 403s, as its document says.
    token = api_stack.token(FUZZ_ORG, user="u_fuzz_scopes", scopes=scopes)
    # A scope's 403 or its pass shows on the first request of each operation: generated cases only (the coverage
    # phase's boundary values are the main run's), three an operation.
    report = schemathesis(api_stack, token, tmp_path, webhook_secrets, "--include-path-regex", "^/(support|settings)/",
                          "--phases", "examples,fuzzing", max_examples=3)
    assert "GET /support/activities/{id}" in report and "PUT /settings/retention" in report


def test_a_method_no_route_has_is_a_404_as_api_gateway_answers(api_stack, fuzz_token):
    # Found by the fuzzer: the local HTTP server answered TRACE and QUERY itself with an HTML 501.
    for method in ("TRACE", "QUERY", "PUT", "DELETE"):
        status, body = api_stack.request(method, "/activities", fuzz_token)
        assert status == 404 and isinstance(body, dict) and body.get("message"), (method, status, body)
