"""Losing nothing across a crash: ``activitylog serve`` killed with SIGKILL, then started again.

Given a stack keeping its data (as ``make dev`` does: DynamoDB Local's file, the SQS journal,
S3 objects and SSM parameters under its folder), when deliveries were acknowledged but not
yet recorded (the table refusing the ingest's writes) and the process dies without any
chance to save, then after a restart the queued messages, the oversized body waiting in S3
and the org's signing secret are all there, and every delivery becomes its entry.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.kit import HttpClient, provider_event, signed_delivery
from tests.e2e.conftest import _start, _stop, wait_for

pytestmark = pytest.mark.e2e

ORG, SECRET = "org_crash", "whsec_survives_a_crash"


def deliver(stack, event) -> int:
    path = f"/webhooks/stripe/{ORG}"
    body, headers = signed_delivery("stripe", SECRET, event, stack.url + path)
    return HttpClient(stack.url).send("POST", path, body, headers)[0]


def test_acknowledged_deliveries_survive_a_crash_of_the_stack(tmp_path):
    stack = _start(tmp_path, "--no-seed", "--poll-seconds", "0.2", "--parameter", "WebhookRetrySeconds=60", in_memory=False)
    try:
        assert stack.cli("secrets", "set", "--org", ORG, "--provider", "stripe", "--value", SECRET).returncode == 0
        # The table refuses the ingest's writes: the deliveries stay queued, acknowledged but not recorded.
        stack.request("POST", "/_local/faults", body={"function": "IngestFunction", "error": "TransactionConflict", "times": 10_000,
                                                     "operations": ["PutItem", "TransactWriteItems"]})
        now = datetime.now(timezone.utc)
        small = provider_event("stripe", "evt_crash_" + uuid.uuid4().hex[:8], "charge.succeeded", now - timedelta(minutes=2))
        notes = "".join(f"line {n:06d} of a long note\n" for n in range(12000))  # ~300 KB: waits in S3
        large = provider_event("stripe", "evt_crash_big_" + uuid.uuid4().hex[:8], "charge.succeeded", now - timedelta(minutes=1),
                               metadata={"notes": notes})
        assert deliver(stack, small) == 200 and deliver(stack, large) == 200
        wait_for(lambda: stack.request("GET", "/_local/queues/WebhookQueue")[1]["in_flight"] == 2, timeout=30)  # tried, failed, backing off
    finally:
        stack.process.kill()  # SIGKILL: no clean stop, nothing saved on the way out
        stack.process.wait()

    again = _start(tmp_path, "--no-seed", "--poll-seconds", "0.2", in_memory=False)
    try:
        reader = again.token(ORG, "u_reader", scopes=("read",))

        def listed():
            status, page = again.request("GET", f"/activities?type=WEBHOOK&from={(now - timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}", reader)
            return page["items"] if status == 200 and len(page["items"]) == 2 else None

        newest, oldest = wait_for(listed, timeout=60)  # the restored messages are visible again: the ingest records them
        sources = {again.request("GET", f"/activities/{i['id']}", reader)[1]["source"]["event_id"] for i in (newest, oldest)}
        assert sources == {small["id"], large["id"]}
        kept = again.request("GET", f"/activities/{newest['id']}", reader)[1]["metadata"]["webhook"]["request"]["body"]
        assert kept["data"]["object"]["metadata"]["notes"] == notes  # its body, offloaded to S3, survived too
        assert deliver(again, small) == 200  # the signing secret survived (SSM): a replay is accepted, and changes nothing
        wait_for(lambda: (lambda q: q["visible"] == 0 and q["in_flight"] == 0)(again.request("GET", "/_local/queues/WebhookQueue")[1]))
        assert listed() == [newest, oldest]
    finally:
        _stop(again)

