"""Access transparency through the ordinary read routes (issue 22, item 3).

A token with ``activity:support`` and without ``activity:read`` is support staff: its reads through
``GET /activities``, ``GET /activities/{id}``, ``/related`` and ``GET /members`` need a ``reason`` (a 400
naming it) and are recorded in the org's log before they are answered; the org's own readers are never
asked. Through the query function's handler on DynamoDB Local; faults from tests/support/faults.py.
"""

from __future__ import annotations

import json

import pytest

from activitylog import store

from tests.support.api import READER, WRITER, entry
from tests.support.faults import faults

from .api_events import claims

SUPPORT = claims(org="org_acme", sub="u_support_7", scope="activity:support", name="Dana (support)")
# A token that holds the org's own read scope reads as the org's people, whatever else it holds.
READER_AND_SUPPORT = claims(org="org_acme", sub="u_18", scope="activity:read activity:support", name="Ana Ruiz")


@pytest.fixture(autouse=True)
def one_minute(api):
    """The functions' clock held at one moment: a retry "moments later" never crosses into the next minute by chance."""
    from datetime import datetime, timezone

    from activitylog.api import common

    moment = datetime.now(timezone.utc)
    common.service().clock = lambda: moment


def support_records(api) -> list[dict]:
    """The org's SYSTEM_EVENTs written for support's reads, as its own readers see them (the page's request)."""
    listed = api.list(token=READER, type="SYSTEM_EVENT", limit=200).body["items"]
    details = [api.get(item["id"]).body for item in listed]
    return [d for d in details if (d.get("metadata") or {}).get("route") and d["actor"]["id"] == "u_support_7"]


def routes(api) -> dict[str, tuple[str, dict]]:
    """Each ordinary read route, as support calls it (its path and query without the reason)."""
    recorded = api.record(entry(correlation_id="cor_42")).body["id"]
    return {
        "GET /activities": ("/activities", {"type": "USER_ACTION", "status": "SUCCESS"}),
        "GET /activities/{id}": (f"/activities/{recorded}", {}),
        "GET /activities/{id}/related": (f"/activities/{recorded}/related", {}),
        "GET /members": ("/members", {"q": "riley"}),
    }


ROUTES = ["GET /activities", "GET /activities/{id}", "GET /activities/{id}/related", "GET /members"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_support_read_through_an_ordinary_route_needs_a_reason_and_is_recorded_with_it(api, route):
    path, query = routes(api)[route]

    # Without a reason (or a blank one): a 400 naming it, nothing answered, nothing recorded
    for refused in (api.call("GET", path, query=query, token=SUPPORT),
                    api.call("GET", path, query={**query, "reason": "  "}, token=SUPPORT)):
        assert (refused.status, refused.field) == (400, "reason"), refused
        assert "items" not in refused.body and "id" not in refused.body
    assert support_records(api) == []

    # With one: answered, and the org's readers see who read what and why
    answered = api.call("GET", path, query={**query, "reason": "ticket 4312"}, token=SUPPORT)
    assert answered.status == 200, answered
    (record,) = support_records(api)
    assert record["type"] == "SYSTEM_EVENT" and record["status"] == "SUCCESS"
    assert record["actor"] == {"kind": "user", "id": "u_support_7", "name": "Dana (support)"}
    assert record["metadata"]["reason"] == "ticket 4312" and record["metadata"]["route"] == route
    assert record["event"].endswith(" · reason: ticket 4312"), record["event"]
    if route == "GET /activities":
        assert record["event"] == "Support listed entries · type=USER_ACTION status=SUCCESS · reason: ticket 4312"
        assert record["metadata"]["filter"] == {"type": ["USER_ACTION"], "status": ["SUCCESS"]}
    elif route == "GET /members":
        assert record["event"] == "Support searched the team members · q=riley · reason: ticket 4312"
    else:
        entry_id = path.split("/")[2]
        assert record["entity"]["type"] == "entry" and record["entity"]["id"] == entry_id
        said = "Support viewed the chain of entry" if route.endswith("related") else "Support viewed entry"
        assert record["event"] == f"{said} {entry_id} · reason: ticket 4312"

    # The same read again within the minute records nothing more; another reason is a read of its own
    assert api.call("GET", path, query={**query, "reason": "ticket 4312"}, token=SUPPORT).status == 200
    assert len(support_records(api)) == 1
    assert api.call("GET", path, query={**query, "reason": "ticket 4400"}, token=SUPPORT).status == 200
    assert sorted(r["metadata"]["reason"] for r in support_records(api)) == ["ticket 4312", "ticket 4400"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("token", [READER, READER_AND_SUPPORT], ids=["reader", "reader-and-support"])
def test_the_orgs_own_readers_are_never_asked_why_and_their_reads_are_not_recorded(api, route, token):
    path, query = routes(api)[route]
    before = api.list(token=READER, type="SYSTEM_EVENT").body["items"]
    assert api.call("GET", path, query=query, token=token).status == 200
    assert api.list(token=READER, type="SYSTEM_EVENT").body["items"] == before


def test_paging_a_list_records_it_once_and_the_reason_is_no_part_of_its_cursor(api):
    for n in range(5):
        api.record(entry(event=f"Contact updated · {n}"))
    wanted = {"type": "USER_ACTION", "limit": "2"}

    first = api.call("GET", "/activities", query={**wanted, "reason": "ticket 4312"}, token=SUPPORT)
    assert first.status == 200 and first.body["next_cursor"], first
    pages = [first.body["items"]]
    cursor = first.body["next_cursor"]
    while cursor:
        page = api.call("GET", "/activities", query={**wanted, "cursor": cursor, "reason": "ticket 4312"}, token=SUPPORT)
        assert page.status == 200, page
        pages.append(page.body["items"])
        cursor = page.body["next_cursor"]
    assert sum(len(items) for items in pages) == 5
    assert len(support_records(api)) == 1  # three pages, one record

    # The cursor is the filter's, whoever asks: the org's reader pages on with support's cursor, no reason
    reader_page = api.call("GET", "/activities", query={**wanted, "cursor": first.body["next_cursor"]}, token=READER)
    assert reader_page.status == 200 and reader_page.body["items"] == pages[1], reader_page


def test_a_support_list_whose_record_cannot_be_written_is_a_503_and_shows_nothing(api, quick_backoff):
    from tests.integration.api_events import LambdaContext, api_event, handler_module

    api.record(entry(event="Contact Ada Lovelace created"))
    event = api_event("GET", "/activities", query={"reason": "ticket 4312"}, claims=SUPPORT)
    with faults("PutItem", ["ServiceUnavailable"] * store.WRITE_ATTEMPTS * 2) as seen:
        answer = handler_module("GET", "/activities").lambda_handler(event, LambdaContext())
    assert seen, "the record was never attempted"
    assert answer["statusCode"] == 503 and "Ada Lovelace" not in answer["body"], answer
    assert support_records(api) == []


def test_the_catalogue_answers_support_without_a_reason_and_records_nothing(api):
    api.record(entry())
    answered = api.call("GET", "/catalog", token=SUPPORT)
    assert answered.status == 200 and answered.body["types"], answered
    assert support_records(api) == []


def test_a_writer_reading_back_its_own_entry_is_not_asked_why(api):
    recorded = api.record(entry()).body["id"]
    assert api.call("GET", f"/activities/{recorded}", token=WRITER).status == 200
    assert support_records(api) == []


def test_the_openapi_document_names_reason_on_the_ordinary_reads():
    from activitylog.api.document import openapi_document

    paths = openapi_document()["paths"]
    for path in ("/activities", "/activities/{id}", "/activities/{id}/related", "/members"):
        (reason,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "reason"]
        assert reason["in"] == "query" and not reason["required"] and "activity:support" in reason["description"]
    assert json.dumps(paths["/catalog"]).count('"reason"') == 0


def test_the_same_list_asked_at_once_from_four_threads_is_answered_four_times_and_recorded_once(api):
    from concurrent.futures import ThreadPoolExecutor

    api.record(entry())
    query = {"type": "USER_ACTION", "reason": "ticket 9000"}
    assert api.call("GET", "/activities", query={"reason": "warm-up"}, token=SUPPORT).status == 200  # models bound first
    before = len(support_records(api))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.call("GET", "/activities", query=query, token=SUPPORT).status, range(4)))
    assert answers == [200] * 4
    assert len(support_records(api)) == before + 1
