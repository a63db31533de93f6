"""The ``activitylog`` command against the served stack, as a new user meets it.

Given ``activitylog serve`` (the product template, demo org seeded), the commands a user
types from the README answer in one clear line when they cannot do what was asked.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from samlocal.template import load, resources
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def test_running_a_function_without_a_schedule_or_an_event_is_one_line(api_stack):
    ran = api_stack.cli("run", "QueryFunction")
    assert ran.returncode == 2 and ran.stdout == ""
    assert ran.stderr.startswith("activitylog: QueryFunction has no schedule") and "--event" in ran.stderr
    assert ran.stderr.count("\n") == 1 and "Traceback" not in ran.stderr


def test_running_a_function_the_template_does_not_have_is_one_line(api_stack):
    ran = api_stack.cli("run", "NoSuchFunction")
    assert ran.returncode == 2 and ran.stdout == ""
    functions = ", ".join(sorted(resources(load(), "AWS::Serverless::Function")))  # every one template.yaml declares
    assert ran.stderr == f"activitylog: no function 'NoSuchFunction' in the template (functions: {functions})\n"
    assert "SweeperFunction" in functions


def test_query_from_today_and_yesterday_start_at_local_midnight(api_stack):
    writer = api_stack.token("org_e2e_today", "svc_e2e", scopes=("write",))
    for event, days in (("Recorded just now", 0), ("Recorded three days ago", 3)):
        moment = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        status, answer = api_stack.request("POST", "/activities", writer, body={
            "type": "SYSTEM_EVENT", "status": "SUCCESS", "action": "cache_cleared", "event": event, "occurred_at": moment,
            "actor": {"kind": "system", "id": "system", "name": "system"}})
        assert status == 201, answer
    for word in ("today", "yesterday"):
        shown = api_stack.cli("query", "--org", "org_e2e_today", "--from", word)
        assert shown.returncode == 0, shown.stderr
        assert "Recorded just now" in shown.stdout and "three days ago" not in shown.stdout
        assert shown.stdout.rstrip().endswith("1 entries")


def test_serve_shows_one_plain_line_per_request_and_keeps_metrics_in_a_file(api_stack):
    reader = api_stack.token("org_e2e_access", "u_1", scopes=("read",))
    assert api_stack.request("GET", "/openapi.json")[0] == 200  # a route that records no metric
    assert api_stack.request("GET", "/activities?type=WEBHOOK", reader)[0] == 200
    line = wait_for(lambda: re.search(r"^\d\d:\d\d:\d\d GET /activities\?type=WEBHOOK 200 \d+ ms$", api_stack.log.read_text(), re.M))
    assert line and re.search(r"^\d\d:\d\d:\d\d GET /openapi.json 200 \d+ ms$", api_stack.log.read_text(), re.M)
    terminal = api_stack.log.read_text()
    assert '"_aws"' not in terminal and "No application metrics" not in terminal
    metrics = [json.loads(line) for line in (api_stack.data_dir / "metrics.log").read_text().splitlines()]
    assert any("EntriesListed" in document for document in metrics)  # what CloudWatch would have read from stdout
