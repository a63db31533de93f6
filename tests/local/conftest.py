"""The fixture stack: tests/local/fixtures/template.yaml run in this process by the local runtime."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.stack import FIXTURE_TEMPLATE


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
