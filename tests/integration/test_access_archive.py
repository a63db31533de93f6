"""``POST /support/archive-queries`` (issue 22, item 3): support's query of an org's archive is recorded in that
org's log, with its window, filters and reason, before ``activitylog archive query`` reads a bucket.

Through the support function's handler on DynamoDB Local (the command itself: tests/e2e/test_access_cli.py).
"""

from __future__ import annotations

import json

import pytest

from activitylog import store

from tests.support.api import READER
from tests.support.faults import faults

from .api_events import LambdaContext, api_event, claims, handler_module

SUPPORT = claims(org="org_acme", sub="u_support_7", scope="activity:support", name="Dana (support)")
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-08T00:00:00Z"}


def ask(body, token=SUPPORT) -> tuple[int, dict]:
    event = api_event("POST", "/support/archive-queries", body=body, claims=token)
    answer = handler_module("POST", "/support/archive-queries").lambda_handler(event, LambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


def archive_records(api) -> list[dict]:
    listed = api.list(token=READER, type="SYSTEM_EVENT").body["items"]
    details = [api.get(item["id"]).body for item in listed]
    return [d for d in details if (d.get("metadata") or {}).get("route") == "POST /support/archive-queries"]


def test_a_query_of_the_archive_is_recorded_in_the_tokens_org_with_its_window_filters_and_reason(api):
    status, answer = ask({"filters": {**WINDOW, "type": ["BACKGROUND_JOB"], "status": "FAILED"}, "reason": "ticket 4312"})

    assert status == 201, answer
    assert answer["org_id"] == "org_acme" and answer["id"]
    (record,) = archive_records(api)
    assert record["id"] == answer["id"] and record["type"] == "SYSTEM_EVENT"
    assert record["event"] == ("Support queried the archive · type=BACKGROUND_JOB status=FAILED "
                               "from=2026-01-01T00:00:00Z to=2026-01-08T00:00:00Z · reason: ticket 4312")
    assert record["actor"] == {"kind": "user", "id": "u_support_7", "name": "Dana (support)"}
    assert record["metadata"]["reason"] == "ticket 4312"
    # the filter recorded as an export records its filters (ISO 8601 with the offset)
    assert record["metadata"]["filter"] == {"type": ["BACKGROUND_JOB"], "status": ["FAILED"],
                                            **{end: when.replace("Z", "+00:00") for end, when in WINDOW.items()}}
    # The same query asked again within the minute (a retry) is the same record
    assert ask({"filters": {**WINDOW, "type": ["BACKGROUND_JOB"], "status": "FAILED"}, "reason": "ticket 4312"})[1] == answer
    assert len(archive_records(api)) == 1


@pytest.mark.parametrize("body, field", [
    ({"filters": WINDOW}, "reason"),
    ({"filters": WINDOW, "reason": "  "}, "reason"),
    ({"filters": WINDOW, "reason": "x" * 201}, "reason"),
    ({"filters": {**WINDOW, "status": "DONE"}, "reason": "ticket 4312"}, "filters.status"),
    ({"filters": WINDOW, "reason": "ticket 4312", "org_id": "org_globex"}, "org_id"),
])
def test_a_query_without_a_reason_or_with_a_bad_filter_is_a_400_naming_it_and_records_nothing(api, body, field):
    status, answer = ask(body)
    assert (status, answer.get("field")) == (400, field), answer
    assert archive_records(api) == []


def test_only_support_records_an_archive_query(api):
    status, answer = ask({"filters": WINDOW, "reason": "ticket 4312"}, token=READER)
    assert (status, answer["field"]) == (403, "scope"), answer
    assert archive_records(api) == []


def test_a_record_that_cannot_be_written_is_a_503(api, quick_backoff):
    api.list(token=READER)  # the table's connection made, for the faults to hook
    with faults("PutItem", ["ServiceUnavailable"] * store.WRITE_ATTEMPTS * 2) as seen:
        status, answer = ask({"filters": WINDOW, "reason": "ticket 4312"})
    assert seen and status == 503, answer
    assert archive_records(api) == []


@pytest.mark.parametrize("content_type, body, status, field", [
    ("multipart/form-data", b'{"filters": {}, "reason": "ticket 4312"}', 415, "content-type"),
    ("application/json", b"\xff\xfe\xfa", 400, "body"),
    ("application/json", b"[]", 400, "body"),
])
def test_a_body_that_is_not_a_json_object_in_utf8_is_a_4xx_naming_it(api, content_type, body, status, field):
    # Found by the fuzz tier (tests/fuzz/test_openapi.py): both were a 500
    event = api_event("POST", "/support/archive-queries", claims=SUPPORT)
    event["headers"]["content-type"] = content_type
    event["body"], event["isBase64Encoded"] = __import__("base64").b64encode(body).decode(), True
    answer = handler_module("POST", "/support/archive-queries").lambda_handler(event, LambdaContext())
    assert (answer["statusCode"], json.loads(answer["body"]).get("field")) == (status, field), answer
    assert archive_records(api) == []
