"""Retried writes with an Idempotency-Key are answered from the first result (Powertools, DynamoDB Local)."""

from __future__ import annotations

import pytest

from activitylog.errors import Conflict
from activitylog.idempotency import run_once
from activitylog_local.kit import LambdaContext


def counting(result: dict):
    calls = []

    def operation() -> dict:
        calls.append(1)
        return {**result, "call": len(calls)}

    return operation, calls


def test_a_retry_with_the_same_key_is_answered_without_running_again(idempotency_table):
    operation, calls = counting({"id": "01M8AP55CB939ADHT5N4N8XQT2"})
    first = run_once("org_a", "POST /activities", "key-1", {"event": "x"}, LambdaContext(), operation)
    again = run_once("org_a", "POST /activities", "key-1", {"event": "x"}, LambdaContext(), operation)
    assert first == again == {"id": "01M8AP55CB939ADHT5N4N8XQT2", "call": 1}
    assert len(calls) == 1


def test_keys_are_scoped_by_org_and_route(idempotency_table):
    operation, calls = counting({})
    run_once("org_a", "POST /activities", "key-2", {"event": "x"}, LambdaContext(), operation)
    run_once("org_b", "POST /activities", "key-2", {"event": "x"}, LambdaContext(), operation)
    run_once("org_a", "POST /activities/batch", "key-2", {"event": "x"}, LambdaContext(), operation)
    assert len(calls) == 3


def test_reusing_a_key_with_another_body_is_a_conflict(idempotency_table):
    operation, calls = counting({})
    run_once("org_a", "POST /activities", "key-3", {"event": "x"}, LambdaContext(), operation)
    with pytest.raises(Conflict) as caught:
        run_once("org_a", "POST /activities", "key-3", {"event": "y"}, LambdaContext(), operation)
    assert caught.value.field == "idempotency-key"
    assert len(calls) == 1


def test_a_failed_write_is_not_remembered(idempotency_table):
    calls = []

    def flaky() -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("throttled")
        return {"ok": True}

    with pytest.raises(RuntimeError):
        run_once("org_a", "POST /activities", "key-4", {"event": "x"}, LambdaContext(), flaky)
    assert run_once("org_a", "POST /activities", "key-4", {"event": "x"}, LambdaContext(), flaky) == {"ok": True}
