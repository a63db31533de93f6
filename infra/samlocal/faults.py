"""DynamoDB refusing on purpose: the local stack's way to show what a function does when the table says no.

``POST /_local/faults`` arms a plan, e.g. "IngestFunction's next 5 TransactWriteItems calls
answer TransactionConflict"; every execution environment checks the plans (one small JSON
file, locked while a plan is used) before each DynamoDB call and answers a matching one with
the error DynamoDB would give, without sending it. No plans, no file: nothing is checked
but its absence.

>>> Faults(path).arm({"function": "activitylog-local-IngestFunction", "operations": ["PutItem"],
...                   "error": "ThrottlingException", "times": 3})
>>> install(path, "activitylog-local-IngestFunction")   # in an environment, before its handler loads
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

ERRORS = ("ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError", "TransactionConflict",
          "RequestLimitExceeded")


class Faults:
    def __init__(self, path: Path) -> None:
        self.path = path

    def arm(self, plan: dict) -> dict:
        """Add a plan: ``function`` (physical name; any if absent), ``operations`` (any if empty),
        ``error`` (one of ``ERRORS``), ``times``."""
        if plan.get("error") not in ERRORS:
            raise ValueError(f"error must be one of {', '.join(ERRORS)}")
        times = plan.get("times")
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ValueError("times must be a positive whole number")
        armed = {"function": plan.get("function"), "operations": list(plan.get("operations") or []), "error": plan["error"],
                 "times": times}
        with _locked(self.path) as plans:
            plans.append(armed)
        return armed

    def plans(self) -> list[dict]:
        if not self.path.exists():
            return []
        with _locked(self.path) as plans:
            return list(plans)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@contextmanager
def _locked(path: Path) -> Iterator[list]:
    """The plans, read and written back under an exclusive lock (environments are processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        plans = json.loads(text) if text.strip() else []
        yield plans
        plans[:] = [plan for plan in plans if plan["times"] > 0]
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(plans))


def take(path: str, function: str, operation: str) -> Optional[str]:
    """The error to answer this call with, using up one of its plan's times; None to let it through."""
    if not os.path.exists(path):
        return None
    with _locked(Path(path)) as plans:
        for plan in plans:
            if plan["times"] > 0 and plan.get("function") in (None, function) and (not plan["operations"] or operation in plan["operations"]):
                plan["times"] -= 1
                return plan["error"]
    return None


def install(path: str, function: str) -> None:
    """In an execution environment: DynamoDB calls consult the plans first (a botocore ``before-send`` handler)."""
    from botocore.handlers import BUILTIN_HANDLERS

    def refuse(request: Any, **kwargs: Any):
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        error = take(path, function, operation)
        return None if error is None else _answer(request, operation, error)

    BUILTIN_HANDLERS.append(("before-send.dynamodb", refuse))


def _answer(request: Any, operation: str, error: str):
    from botocore.awsrequest import AWSResponse

    extra: dict = {}
    code = error
    if error == "TransactionConflict":  # DynamoDB's answer: the transaction cancelled, each item's reason
        items = len(json.loads(request.body).get("TransactItems", [])) if operation == "TransactWriteItems" else 1
        code = "TransactionCanceledException" if operation == "TransactWriteItems" else "TransactionConflictException"
        extra = {"CancellationReasons": [{"Code": "TransactionConflict", "Message": "conflict"}] * items}
    status = 500 if error == "InternalServerError" else 400
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": f"{code} (local fault)", **extra}).encode()
    return AWSResponse(request.url, status, {"x-amzn-requestid": "local-fault", "content-type": "application/x-amz-json-1.0"},
                       _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body
