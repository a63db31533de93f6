"""The fixture stack: tests/local/fixtures/template.yaml run in this process by the local runtime."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"


@pytest.fixture(scope="module")
def fixture_stack(dynamodb_local, tmp_path_factory):
    """The fixture template's whole stack on free ports; its at() tick fires 10 s after start."""
    from samlocal.stack import LocalStack, StackOptions

    tick = (datetime.now(timezone.utc) + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S")
    options = StackOptions(
        template_path=FIXTURE_TEMPLATE,
        data_dir=tmp_path_factory.mktemp("local"),
        port=0,
        in_memory=True,
        dynamodb_endpoint=dynamodb_local.endpoint,
        stack_name=f"fx{uuid.uuid4().hex[:6]}",
        parameters={"TickSchedule": f"at({tick})"},
        poll_seconds=0.1,
        ttl_sweep_seconds=0.5,
    )
    with LocalStack(options) as stack:
        yield stack


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
