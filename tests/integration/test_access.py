"""Access transparency (issue 22, item 3): support's reads of an org's entries are recorded in that org's own log.

Through the support function's handler on DynamoDB Local: the record (a SYSTEM_EVENT, actor the support user,
entity the entry read, the reason) is written before the entry is answered; no reason is a 400 naming ``reason``;
a record that cannot be written is a 503 that shows nothing. Faults come from tests/support/faults.py.
"""

from __future__ import annotations

import json

import pytest

from activitylog import store

from tests.support.api import READER, entry
from tests.support.faults import faults

from .api_events import LambdaContext, api_event, claims, handler_module

@pytest.fixture(autouse=True)
def one_minute(api):
    """The functions' clock held at one moment: a retry "moments later" never crosses into the next minute by chance."""
    from datetime import datetime, timezone

    from activitylog.api import common

    moment = datetime.now(timezone.utc)
    common.service().clock = lambda: moment


SUPPORT = claims(org="org_acme", sub="u_support_7", scope="activity:support", name="Dana (support)")


def support_read(entry_id: str, reason: str | None = "ticket 4312", token=SUPPORT) -> tuple[int, dict]:
    query = {"reason": reason} if reason is not None else None
    event = api_event("GET", f"/support/activities/{entry_id}", query=query, claims=token)
    answer = handler_module("GET", f"/support/activities/{entry_id}").lambda_handler(event, LambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


def access_records(api) -> list[dict]:
    """The org's SYSTEM_EVENTs about support's reads, as its own readers list them (the page's request)."""
    listed = api.list(token=READER, type="SYSTEM_EVENT").body["items"]
    return [api.get(item["id"]).body for item in listed if (item.get("entity") or {}).get("type") == "entry"]


def test_a_support_read_is_recorded_in_the_orgs_log_with_its_actor_reason_and_entity(api):
    # Given an entry of org_acme
    read = api.record(entry()).body["id"]

    # When support reads it, giving the ticket it works on
    status, found = support_read(read, "ticket 4312")

    # Then the entry is answered, and org_acme's own readers see who read it, which entry and why
    assert status == 200 and found["id"] == read, found
    (record,) = access_records(api)
    assert record["type"] == "SYSTEM_EVENT" and record["status"] == "SUCCESS"
    assert record["event"] == f"Support viewed entry {read} · reason: ticket 4312"
    assert record["actor"] == {"kind": "user", "id": "u_support_7", "name": "Dana (support)"}
    assert record["entity"]["type"] == "entry" and record["entity"]["id"] == read
    assert record["metadata"]["reason"] == "ticket 4312" and record["metadata"]["found_in"] == "hot"

    # A retry of the same read (same support user, entry and reason, moments later) records nothing more;
    # another reason is another read, recorded on its own.
    assert support_read(read, "ticket 4312")[0] == 200
    assert len(access_records(api)) == 1
    assert support_read(read, "ticket 4400: refund question")[0] == 200
    assert sorted(r["metadata"]["reason"] for r in access_records(api)) == ["ticket 4312", "ticket 4400: refund question"]


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 201, "ticket\n4312"])
def test_a_support_read_without_a_usable_reason_is_a_400_naming_reason_and_shows_and_records_nothing(api, reason):
    read = api.record(entry()).body["id"]
    status, answer = support_read(read, reason)
    assert (status, answer.get("field")) == (400, "reason"), answer
    assert "id" not in answer and access_records(api) == []


def test_a_support_read_whose_record_cannot_be_written_is_a_503_and_shows_nothing(api, quick_backoff):
    # Given an entry, and DynamoDB refusing every write of the record (the entry itself reads fine)
    read = api.record(entry(event="Contact Ada Lovelace created")).body["id"]
    with faults("PutItem", ["ServiceUnavailable"] * store.WRITE_ATTEMPTS * 2) as seen:
        status, answer = support_read(read)

    # Then support gets a 503 with nothing of the entry in it, and the org's log has no record of a read
    assert seen, "the record was never attempted"
    assert status == 503, answer
    assert read not in json.dumps(answer) and "Ada Lovelace" not in json.dumps(answer)
    assert access_records(api) == []
    # Once DynamoDB takes writes again, the same request is recorded and answered
    assert support_read(read)[0] == 200 and len(access_records(api)) == 1


def test_the_same_read_sent_at_once_from_four_threads_is_answered_four_times_and_recorded_once(api):
    from concurrent.futures import ThreadPoolExecutor

    read = api.record(entry()).body["id"]
    support_read(read)  # the handler's models are bound before the threads share them
    records_before = len(access_records(api))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: support_read(read, "ticket 9000"), range(4)))
    assert [status for status, _ in answers] == [200] * 4, answers
    assert len(access_records(api)) == records_before + 1
