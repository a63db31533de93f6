"""Every operation of the served OpenAPI document, fuzzed by schemathesis: no 5xx, and every
answer's status and body are ones the document describes.

Schemathesis runs as its own command (``schemathesis run``), the way it is used against a
deployed API; its pytest plugin cannot load a schema from a session fixture on pytest 9.2
(``request.node._nodeid`` is gone). A failure prints schemathesis' report, with a curl
line that reproduces each case.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SEED = 20261127  # fixed: a failure here reproduces with the same command
MAX_EXAMPLES = 25  # per operation and phase; sized so the tier stays under 3 minutes on 2 cores
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


def test_every_operation_answers_as_its_document_says(api_stack, fuzz_token, tmp_path):
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--no-color", "run", f"{api_stack.url}/openapi.json",
        "--checks", CHECKS,
        "--mode", "all",  # positive and negative data
        "--seed", str(SEED),
        "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1",
        "--generation-database", "none",  # no examples carried over from an earlier run
        "--header", f"Authorization: Bearer {fuzz_token}",
        # A function's first request starts its execution environment (a process importing its
        # code): seconds on a loaded 2-core machine, past schemathesis' 10 s default.
        "--request-timeout", "60",
    ]

    # In a temporary folder: schemathesis keeps its replay files under ./.schemathesis
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-4000:]


def test_a_method_no_route_has_is_a_404_as_api_gateway_answers(api_stack, fuzz_token):
    # Found by the fuzzer: the local HTTP server answered TRACE and QUERY itself with an HTML 501.
    for method in ("TRACE", "QUERY", "PUT", "DELETE"):
        status, body = api_stack.request(method, "/activities", fuzz_token)
        assert status == 404 and isinstance(body, dict) and body.get("message"), (method, status, body)
