"""DynamoDB answering with faults at the wire (botocore's before-send event), for the tests of what the
service does when a write is lost, refused or throttled; ``quick_backoff`` is in tests/integration/conftest.py."""

from __future__ import annotations

import json
from contextlib import contextmanager

from botocore.awsrequest import AWSResponse
from botocore.httpsession import URLLib3Session

from activitylog import store

MOTO = {"core": {"passthrough": {"services": ["dynamodb"]}}}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


def answer(request, status: int, code: str, extra: dict | None = None) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **(extra or {})}).encode()
    return AWSResponse(request.url, status, {"x-amzn-requestid": "fault", "content-type": "application/x-amz-json-1.0"}, _Raw(body))


@contextmanager
def faults(operation: str, plan: list[str]):
    """Answer the next calls of ``operation`` by ``plan``: "lost" (runs, answer lost: 500),
    or an error code DynamoDB gives (ThrottlingException, TransactionConflict, …)."""
    events = store.table_connection().connection.client.meta.events
    remaining = list(plan)
    seen: list[str] = []

    def handler(request, **_):
        if not remaining:
            return None
        step = remaining.pop(0)
        seen.append(step)
        if step == "lost":
            URLLib3Session().send(request)  # DynamoDB does the write; the caller never hears
            return answer(request, 500, "InternalServerError")
        if step == "TransactionConflict":
            reasons = [{"Code": "TransactionConflict", "Message": "conflict"}] * json.loads(request.body)["TransactItems"].__len__()
            return answer(request, 400, "TransactionCanceledException", {"CancellationReasons": reasons})
        return answer(request, 400, step)

    events.register(f"before-send.dynamodb.{operation}", handler, unique_id=f"faults-{operation}")
    try:
        yield seen
    finally:
        events.unregister(f"before-send.dynamodb.{operation}", unique_id=f"faults-{operation}")


@contextmanager
def directory_writes_refused():
    """The table refuses (throttles) every write of the members directory (``actor#…`` items), and nothing else."""
    events = store.table_connection().connection.client.meta.events

    def refuse(request, **_):
        target = str(request.headers.get("X-Amz-Target", ""))
        return answer(request, 400, "ThrottlingException") if b"actor#" in request.body and "UpdateItem" in target else None

    events.register("before-send.dynamodb", refuse, unique_id="directory-writes-refused")
    try:
        yield
    finally:
        events.unregister("before-send.dynamodb", unique_id="directory-writes-refused")
