"""The HTTP API end to end: each route's function (functions/query, functions/record) fed API Gateway HTTP API
payload-v2 events, against a fresh table on DynamoDB Local created from template.yaml.

Every answer is checked to be JSON and never a 5xx: a bad request names its field, a
good one is read back through the API itself.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import boto3
import pytest
import time_machine
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from activitylog import wiring
from activitylog.scopes import ROUTE_SCOPES

from .api_events import claims
from tests.support.api import OTHER_ORG_READER, OTHER_ORG_WRITER, READER, WRITER, entry, job

ULID = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
LIST_COLUMNS = {"id", "occurred_at", "type", "status", "actor", "action", "event", "entity"}



def minutes_ago(minutes: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat(timespec="milliseconds")


# -- record, list, read back: the "Done when" path -----------------------------------


def test_an_update_with_before_and_after_is_listed_and_read_back_with_its_diff(api):
    # Given a writer records a contact update with the record before and after
    before = {"name": "Alex Chen", "email": "alex@old.example", "address": {"city": "Napa", "zip": "94558"}, "tags": ["vip"],
              "nickname": None, "vip": 1}
    after = {"name": "Alex Chen", "email": "alex@new.example", "address": {"city": "Sonoma", "zip": "94558"}, "tags": ["vip"],
             "vip": True}
    expected_changes = {  # JSON Pointer paths; a removed field has no "after", which is not an "after" of null
        "/email": {"before": "alex@old.example", "after": "alex@new.example"},
        "/address/city": {"before": "Napa", "after": "Sonoma"},
        "/nickname": {"before": None},
        "/vip": {"before": 1, "after": True},
    }

    # When it is posted
    created = api.record(entry(before=before, after=after))

    # Then it is created with the field-level diff (unchanged fields left out)
    assert created.status == 201, created
    assert created.body["changes"] == expected_changes
    entry_id = created.body["id"]
    assert entry_id and re.match(ULID, entry_id)
    assert created.body["recorded_by"] == "svc_contacts"  # the caller comes from the token

    # And the dashboard finds it by type and status
    listed = api.list(type="USER_ACTION", status="SUCCESS")
    assert listed.status == 200, listed
    assert [item["id"] for item in listed.body["items"]] == [entry_id]
    item = listed.body["items"][0]
    assert item["type"] == "USER_ACTION" and item["status"] == "SUCCESS"
    assert item["actor"] == {"kind": "user", "id": "u_17", "name": "Riley Park"}
    assert item["entity"] == {"type": "contact", "id": "c_42", "label": "Alex Chen"}
    assert item["event"] == "Contact updated · Alex Chen"

    # And it is not found under another status
    assert api.ids(type="USER_ACTION", status="FAILED") == []

    # And the detail returns the whole entry with its diff
    detail = api.get(entry_id)
    assert detail.status == 200, detail
    assert detail.body["id"] == entry_id
    assert detail.body["changes"] == expected_changes
    assert detail.body["action"] == "updated"
    assert detail.body["occurred_at"] == created.body["occurred_at"]


def test_list_answers_exactly_items_and_next_cursor_with_the_list_columns(api):
    # Given one entry with details that belong to the detail view only
    created = api.record(entry(metadata={"request": {"a": 1}}, changes={"/name": {"before": "A", "after": "B"}}))
    assert created.status == 201, created

    # When the list is read
    listed = api.list()

    # Then the answer is {items, next_cursor}, and each item carries the list columns
    assert listed.status == 200, listed
    assert set(listed.body) == {"items", "next_cursor"}
    assert listed.body["next_cursor"] is None
    (item,) = listed.body["items"]
    assert LIST_COLUMNS <= set(item)
    assert item["id"] == created.body["id"]
    assert item["occurred_at"] == created.body["occurred_at"]
    assert item["action"] == "updated"
    # and not the detail (the indexes project only the list columns)
    assert not {"changes", "metadata", "error"} & set(item)


def test_type_and_status_are_multi_selects_repeated_or_comma_separated(api):
    # Given entries of several types and statuses
    made = {}
    kinds = [
        ("USER_ACTION", "SUCCESS"),
        ("BACKGROUND_JOB", "FAILED"),
        ("BACKGROUND_JOB", "WARNING"),
        ("BACKGROUND_JOB", "SUCCESS"),
        ("WEBHOOK", "FAILED"),
    ]
    for n, (entry_type, status) in enumerate(kinds):
        # a minute apart, oldest first, so "newest first" has one right answer
        occurred_at = minutes_ago(len(kinds) - n)
        reply = api.record(entry(type=entry_type, status=status, event=f"{entry_type} {status}", occurred_at=occurred_at))
        assert reply.status == 201, reply
        made[(entry_type, status)] = reply.body["id"]

    # When status is repeated (API Gateway joins repeats with commas)
    repeated = api.ids(type="BACKGROUND_JOB", status=["FAILED", "WARNING"])
    # Then exactly the matching entries come back, newest first
    expected = [made[("BACKGROUND_JOB", "WARNING")], made[("BACKGROUND_JOB", "FAILED")]]
    assert repeated == expected

    # And a comma-separated multi-select over two types gives the same kind of answer
    failed = api.ids(type="BACKGROUND_JOB,WEBHOOK", status="FAILED")
    assert failed == [made[("WEBHOOK", "FAILED")], made[("BACKGROUND_JOB", "FAILED")]]

    # And no filter lists everything newest first
    assert api.ids() == list(reversed(list(made.values())))


# -- batch -------------------------------------------------------------------------------------


def test_batch_with_invalid_entries_writes_only_the_valid_ones_and_reports_each(api):
    # Given a batch mixing valid entries with bad ones
    entries = [
        entry(event="first"),
        entry(type="DEPLOYMENT"),  # unknown type
        entry(event="third"),
        {k: v for k, v in entry().items() if k != "event"},  # missing a required field
        entry(colour="red"),  # unknown field
    ]

    # When it is posted
    reply = api.call("POST", "/activities/batch", body={"entries": entries}, token=WRITER)

    # Then it is a partial success with one result per entry, in order
    assert reply.status == 207, reply
    assert reply.body["accepted"] == 2 and reply.body["rejected"] == 3
    results = reply.body["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted", "rejected", "rejected"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert results[1]["field"].split(".")[-1] == "type"
    assert results[3]["field"].split(".")[-1] == "event"
    assert results[4]["field"].split(".")[-1] == "colour"
    for rejected in (results[1], results[3], results[4]):
        assert rejected["field"].startswith(f"entries.{rejected['index']}")
        assert rejected["reason"]
        assert "id" not in rejected

    # And only the valid ones were written, readable by their ids
    accepted_ids = [results[0]["id"], results[2]["id"]]
    assert sorted(api.ids()) == sorted(accepted_ids)
    assert api.get(accepted_ids[0]).body["event"] == "first"
    assert api.get(accepted_ids[1]).body["event"] == "third"


def test_batch_of_101_is_refused_whole(api):
    reply = api.call("POST", "/activities/batch", body={"entries": [entry()] * 101}, token=WRITER)

    assert reply.status == 400, reply
    assert reply.field == "entries"
    assert api.ids() == []


def test_batch_of_100_valid_entries_is_written_whole(api):
    entries = [entry(event=f"Contact updated · #{i}") for i in range(100)]

    reply = api.call("POST", "/activities/batch", body={"entries": entries}, token=WRITER)

    assert reply.status == 200, reply
    assert reply.body["accepted"] == 100 and reply.body["rejected"] == 0
    assert all(r["status"] == "accepted" for r in reply.body["results"])
    written = api.ids()
    assert sorted(written) == sorted(r["id"] for r in reply.body["results"])


# -- job progress and completion ---------------------------------------------------------------


def test_job_progress_then_completion_and_late_updates_never_undo_it(api):
    # Given a job that has started
    started = api.record(job())
    assert started.status == 201, started
    job_id = started.body["id"]

    # When progress 2 arrives, then progress 1 (reports overtake each other on the way)
    progress = api.patch(job_id, {"metadata": {"processed": 500, "batches": {"done": 5}}, "sequence": 2})
    assert progress.status == 200, progress
    assert progress.body["status"] == "IN_PROGRESS"
    late_progress = api.patch(job_id, {"status": "IN_PROGRESS", "metadata": {"processed": 300, "skipped": 2}, "sequence": 1})

    # Then the older report changes nothing; the entry shows the writer's latest report
    assert late_progress.status == 200, late_progress
    assert late_progress.body["metadata"] == {"processed": 500, "total": 1000, "batches": {"done": 5}}
    assert late_progress.body["sequence"] == 2

    # When the job completes (dropping a key it no longer needs)
    done = api.patch(job_id, {"status": "SUCCESS", "metadata": {"processed": 1000, "batches": None}, "sequence": 3})
    assert done.status == 200, done
    assert done.body["status"] == "SUCCESS"
    assert done.body["metadata"] == {"processed": 1000, "total": 1000}
    assert done.body["finished_at"] >= done.body["occurred_at"]
    final = api.get(job_id).body

    # When the worker retries its final report (its first answer was lost)
    retried = api.patch(job_id, {"status": "SUCCESS", "metadata": {"processed": 1000, "batches": None}, "sequence": 3})
    # Then it is a 200 that changes nothing
    assert retried.status == 200, retried
    assert api.get(job_id).body == final

    # Then the list's status filter follows the change
    assert api.ids(status="SUCCESS") == [job_id]
    assert api.ids(status="IN_PROGRESS") == []

    # When a late IN_PROGRESS update arrives after completion
    late = api.patch(job_id, {"status": "IN_PROGRESS", "metadata": {"processed": 1200}})
    # Then it is a conflict naming the status, and nothing changed
    assert late.status == 409, late
    assert late.field == "status"
    assert api.get(job_id).body == final

    # And another terminal status is refused too
    assert api.patch(job_id, {"status": "FAILED"}).status == 409
    assert api.get(job_id).body == final

    # When the completion is delivered twice
    duplicate = api.patch(job_id, {"status": "SUCCESS"})
    # Then it is an idempotent 200 that changes nothing
    assert duplicate.status == 200, duplicate
    assert duplicate.body["status"] == "SUCCESS"
    assert api.get(job_id).body == final


# -- organizations and scopes ------------------------------------------------------------------


def test_another_orgs_entry_is_not_found_for_reads_or_updates(api):
    # Given org_acme's running job
    created = api.record(job())
    job_id = created.body["id"]
    original = api.get(job_id).body

    # When org_globex asks for it or tries to complete it
    read = api.get(job_id, token=OTHER_ORG_READER)
    update = api.patch(job_id, {"status": "FAILED"}, token=OTHER_ORG_WRITER)

    # Then both answer 404, exactly like an id that does not exist
    assert read.status == 404 and read.field == "id", read
    assert update.status == 404 and update.field == "id", update
    assert api.ids(token=OTHER_ORG_READER) == []
    # And org_acme's entry is untouched
    assert api.get(job_id).body == original


def test_writes_need_the_write_scope(api):
    # Given a dashboard reader's token (no activity:write)
    # When it tries every write
    posted = api.record(entry(), token=READER)
    batched = api.call("POST", "/activities/batch", body={"entries": [entry()]}, token=READER)

    # Then each is forbidden naming the scope, and nothing is written
    for reply in (posted, batched):
        assert reply.status == 403, reply
        assert reply.field == "scope"
    assert api.ids() == []

    created = api.record(job())
    patched = api.patch(created.body["id"], {"status": "SUCCESS"}, token=READER)
    assert patched.status == 403 and patched.field == "scope", patched
    assert api.get(created.body["id"]).body["status"] == "IN_PROGRESS"


def test_listing_needs_a_read_scope(api):
    reply = api.list(token=WRITER)

    assert reply.status == 403, reply
    assert reply.field == "scope"


@pytest.mark.parametrize("route", [route for route, scopes in ROUTE_SCOPES.items() if scopes and " /exports" not in route])
@pytest.mark.parametrize("scope", ["activity:read", "activity:write", "activity:support", "activity:admin"])
def test_each_route_answers_a_one_scope_token_as_the_scope_table_says(api, route, scope):
    # (The export routes, which answer CSV and need an export: tests/integration/test_exports.py.)
    # Given a running job, and a token holding only this scope
    job_id = api.record(job()).body["id"]
    token = claims(org="org_acme", sub="u_17", scope=scope)
    method, path = route.split(" ", 1)
    body = {"POST /activities": entry(), "POST /activities/batch": {"entries": [entry()]},
            "PATCH /activities/{id}": {"metadata": {"processed": 5}}, "PUT /settings/retention": {"hot_days": 365}, "PUT /settings/privacy": {"patterns": ["/ssn"]},
            "POST /support/archive-queries": {"filters": {}, "reason": "ticket 4312"},
            "POST /recoveries/{provider}": {"from": "2026-01-01T00:00:00Z", "preview": True},
            "POST /privacy/erasures": {"subject": {"kind": "user", "id": "u_99"}}}.get(route)

    # When it calls the route
    # support's reads say why (a reason any other token sends is not asked for, and ignored)
    recorded_reads = ("GET /activities", "GET /activities/{id}", "GET /activities/{id}/related", "GET /members")
    query = {"reason": "ticket 4312"} if route.startswith("GET /support/") or route in recorded_reads else None
    # (A recovery from FedEx is refused by what FedEx allows, before any key is read: tests/integration/test_webhook_recovery.py)
    path = path.replace("{id}", job_id).replace("{provider}", "fedex")
    reply = api.call(method, path, body=body, token=token, query=query)

    # Then the service lets it through exactly when the table (and so API Gateway) does
    if scope in ROUTE_SCOPES[route]:
        # (A proof is of archived versions: this running job is in no archive. tests/integration/test_proof.py)
        # (A job's id names no stream, and a stream needs a body: let through, refused past the scope check.
        # tests/integration/test_streams.py)
        if route.startswith("POST /recoveries/"):
            assert (reply.status, reply.field) == (400, "provider"), reply
        elif route == "POST /privacy/erasures":  # no subject keys in this tier: refused past the scope check (test_erasure.py erases)
            assert (reply.status, reply.field) == (409, "subject"), reply
        elif route.endswith("/proof") or "/settings/streams/{id}" in route or "/alerts/{id}" in route or "/retries/{id}" in route:
            assert reply.status == 404 and reply.field != "scope", reply
        else:
            expected = (400,) if route in ("POST /settings/streams", "POST /alerts") else (200, 201)
            assert reply.status in expected and reply.field != "scope", reply
    else:
        assert (reply.status, reply.field) == (403, "scope"), reply


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/activities", None),
        ("GET", "/activities/01JDQ7Z9K3M5N7P9R1T3V5X7Z9", None),
        ("POST", "/activities", entry()),
        ("PATCH", "/activities/01JDQ7Z9K3M5N7P9R1T3V5X7Z9", {"status": "SUCCESS"}),
    ],
)
def test_a_token_without_an_org_is_unauthorized(api, method, path, body):
    token = claims(org=None, scope="activity:read activity:write")

    reply = api.call(method, path, body=body, token=token)

    assert reply.status == 401, reply
    assert reply.body["message"]


# -- bad input: a 4xx naming the field, nothing written ----------------------------------------

GOOD_ID = "01JDQ7Z9K3M5N7P9R1T3V5X7Z9"
FUTURE = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()

BAD_REQUESTS = [
    # (id, method, path, query, body, status, field)
    ("unknown type", "GET", "/activities", {"type": "DEPLOYMENT"}, None, 400, "type"),
    ("one unknown type of two", "GET", "/activities", {"type": ["WEBHOOK", "DEPLOYMENT"]}, None, 400, "type"),
    ("unknown status", "GET", "/activities", {"status": "DONE"}, None, 400, "status"),
    ("from after to", "GET", "/activities", {"from": "2026-11-20T00:00:00Z", "to": "2026-11-19T00:00:00Z"}, None, 400, "from"),
    ("from not a time", "GET", "/activities", {"from": "yesterday"}, None, 400, "from"),
    ("limit 0", "GET", "/activities", {"limit": "0"}, None, 400, "limit"),
    ("limit 201", "GET", "/activities", {"limit": "201"}, None, 400, "limit"),
    ("limit abc", "GET", "/activities", {"limit": "abc"}, None, 400, "limit"),
    ("from in the future", "GET", "/activities", {"from": FUTURE}, None, 400, "from"),
    ("two users", "GET", "/activities", {"user": ["u_1", "u_2"]}, None, 400, "user"),
    ("entity_id without entity_type", "GET", "/activities", {"entity_id": "c_42"}, None, 400, "entity_id"),
    ("unknown entity_type", "GET", "/activities", {"entity_type": "planet"}, None, 400, "entity_type"),
    ("unknown query parameter", "GET", "/activities", {"sort": "asc"}, None, 400, "sort"),
    ("org_id in the query", "GET", "/activities", {"org_id": "org_globex"}, None, 400, "org_id"),
    ("malformed id on GET", "GET", "/activities/not-a-ulid", None, None, 400, "id"),
    ("lowercase id on GET", "GET", f"/activities/{GOOD_ID.lower()}", None, None, 400, "id"),
    ("malformed id on PATCH", "PATCH", "/activities/12345", None, {"status": "SUCCESS"}, 400, "id"),
    ("invalid JSON", "POST", "/activities", None, '{"type": "USER_ACTION",', 400, "body"),
    ("missing required field", "POST", "/activities", None, {k: v for k, v in entry().items() if k != "event"}, 400, "event"),
    ("unknown field", "POST", "/activities", None, entry(colour="red"), 400, "colour"),
    ("org_id in the body", "POST", "/activities", None, entry(org_id="org_globex"), 400, "org_id"),
    ("unknown type in body", "POST", "/activities", None, entry(type="DEPLOYMENT"), 400, "type"),
    ("unknown status in body", "POST", "/activities", None, entry(status="DONE"), 400, "status"),
    ("unknown actor kind", "POST", "/activities", None, entry(actor={"kind": "robot", "id": "r1", "name": "R"}), 400, "actor.kind"),
    ("occurred_at in the future", "POST", "/activities", None, entry(occurred_at=FUTURE), 400, "occurred_at"),
    ("occurred_at not a time", "POST", "/activities", None, entry(occurred_at="last tuesday"), 400, "occurred_at"),
    ("occurred_at past retention", "POST", "/activities", None, entry(occurred_at="2020-01-01T00:00:00Z"), 400, "occurred_at"),
    ("malformed retry_of", "POST", "/activities", None, entry(retry_of="yesterday's job"), 400, "retry_of"),
    ("both changes and before/after", "POST", "/activities", None, entry(changes={}, before={"a": 1}, after={"a": 2}), 400, "changes"),
    ("changes keyed by a dotted path", "POST", "/activities", None, entry(changes={"address.city": {"after": "Sonoma"}}), 400, "changes"),
    ("invalid JSON in batch", "POST", "/activities/batch", None, '{"entries": [', 400, "body"),
    ("batch entries not a list", "POST", "/activities/batch", None, {"entries": "all"}, 400, "entries"),
    ("empty batch", "POST", "/activities/batch", None, {"entries": []}, 400, "entries"),
    ("unknown status in PATCH", "PATCH", f"/activities/{GOOD_ID}", None, {"status": "DONE"}, 400, "status"),
    ("unknown field in PATCH", "PATCH", f"/activities/{GOOD_ID}", None, {"progress": 5}, 400, "progress"),
    ("invalid JSON in PATCH", "PATCH", f"/activities/{GOOD_ID}", None, "{status", 400, "body"),
    ("body over 1 MiB", "POST", "/activities", None, entry(metadata={"blob": "x" * (1024 * 1024)}), 413, "body"),
    ("PATCH body over 1 MiB", "PATCH", f"/activities/{GOOD_ID}", None, {"metadata": {"blob": "x" * (1024 * 1024)}}, 413, "body"),
]


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status", "field"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(api, method, path, query, body, status, field):
    token = claims(scope="activity:read activity:write")

    reply = api.call(method, path, query=query, body=body, token=token)

    assert reply.status == status, reply
    assert isinstance(reply.body, dict) and isinstance(reply.body.get("message"), str) and reply.body["message"]
    assert reply.field == field, reply
    assert api.ids() == []


def test_a_bad_patch_leaves_the_entry_unchanged(api):
    # Given a running job
    job_id = api.record(job()).body["id"]
    before = api.get(job_id).body

    # When updates with bad content arrive
    for update in ({"status": "DONE"}, {}, {"metadata": {"processed": 5}, "colour": "red"}, "{not json"):
        reply = api.patch(job_id, update)
        # Then each is a 400 and the entry is as it was
        assert reply.status == 400, (update, reply)
        assert reply.field
    assert api.get(job_id).body == before


# -- cursors -----------------------------------------------------------------------------------


def seed(api, count: int) -> list[str]:
    """``count`` entries over the last hours, of mixed types and statuses, newest first."""
    kinds = [("USER_ACTION", "SUCCESS"), ("BACKGROUND_JOB", "FAILED"), ("WEBHOOK", "SUCCESS"), ("BACKGROUND_JOB", "WARNING")]
    entries = [
        entry(type=kinds[i % 4][0], status=kinds[i % 4][1], event=f"entry {i}", occurred_at=minutes_ago(7 * i + 1))
        for i in range(count)
    ]
    reply = api.call("POST", "/activities/batch", body={"entries": entries}, token=WRITER)
    assert reply.status == 200, reply
    return [r["id"] for r in reply.body["results"]]  # oldest last: occurred_at goes back with i


def pages(api, token=READER, **query) -> list[list[str]]:
    result, cursor = [], None
    for _ in range(50):
        params = dict(query, limit=2, **({"cursor": cursor} if cursor else {}))
        reply = api.list(token=token, **params)
        assert reply.status == 200, reply
        assert len(reply.body["items"]) <= 2
        result.append([item["id"] for item in reply.body["items"]])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return result
    pytest.fail("next_cursor never became null")


@pytest.mark.parametrize("shards", [1, 4])
def test_paging_with_the_cursor_has_no_duplicate_and_no_gap(api, monkeypatch, shards):
    # Given 9 entries written over one org's shards
    monkeypatch.setenv("DEFAULT_SHARDS", str(shards))
    wiring.reset()
    written = seed(api, 9)

    # When the whole list and a filtered list are paged 2 at a time
    for query, expected in [
        ({}, written),
        ({"type": "BACKGROUND_JOB,WEBHOOK"}, [i for n, i in enumerate(written) if n % 4 != 0]),
        ({"status": ["FAILED", "WARNING"]}, [i for n, i in enumerate(written) if n % 2 == 1]),
    ]:
        paged = pages(api, **query)
        flat = [entry_id for page in paged for entry_id in page]

        # Then the pages, concatenated, are the full list: same order, no duplicate, no gap
        assert api.ids(**query) == expected
        assert flat == expected, query
        assert len(set(flat)) == len(flat)
        assert len(paged) >= len(expected) // 2


def test_a_cursor_keeps_working_with_another_page_size(api):
    written = seed(api, 6)
    first = api.list(limit=2)
    assert first.body["next_cursor"]

    rest = api.list(limit=10, cursor=first.body["next_cursor"])

    assert rest.status == 200, rest
    assert [i["id"] for i in first.body["items"] + rest.body["items"]] == written


def _first_cursor(api, token=READER, **query) -> str:
    reply = api.list(token=token, limit=2, **query)
    assert reply.status == 200, reply
    assert reply.body["next_cursor"], "need a second page"
    return reply.body["next_cursor"]


def _tamper(token: str) -> list[str]:
    """Edited versions of a cursor: a flipped character in each half, truncated, garbage."""
    body, _, signature = token.partition(".")

    def flip(text: str, at: int) -> str:
        return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]

    return [flip(body, len(body) // 2) + "." + signature, body + "." + flip(signature, 0), token[:-3], "not-a-cursor", token + "x"]


def test_a_tampered_cursor_is_a_400_naming_cursor(api):
    seed(api, 5)
    cursor = _first_cursor(api)

    for tampered in _tamper(cursor):
        reply = api.list(limit=2, cursor=tampered)
        assert reply.status == 400, (tampered, reply)
        assert reply.field == "cursor"


def test_a_cursor_from_another_filter_set_is_a_400(api):
    seed(api, 8)
    cursor = _first_cursor(api, type="BACKGROUND_JOB")

    for other_filter in ({"type": "WEBHOOK"}, {"type": "BACKGROUND_JOB", "status": "FAILED"}, {}):
        reply = api.list(limit=2, cursor=cursor, **other_filter)
        assert reply.status == 400, (other_filter, reply)
        assert reply.field == "cursor"


def test_a_cursor_from_another_org_is_a_400(api):
    # Given both orgs have entries and org_acme holds a cursor
    seed(api, 5)
    assert api.call("POST", "/activities/batch", body={"entries": [entry()] * 5}, token=OTHER_ORG_WRITER).status == 200
    cursor = _first_cursor(api)

    # When org_globex replays it with the same filters
    reply = api.list(token=OTHER_ORG_READER, limit=2, cursor=cursor)

    # Then it is refused
    assert reply.status == 400, reply
    assert reply.field == "cursor"


def test_a_cursor_older_than_24_hours_is_a_400_saying_it_expired(api):
    seed(api, 5)
    cursor = _first_cursor(api)

    # When the next page is asked for 24 h and 1 s later (the clock moved, nothing slept)
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(hours=24, seconds=1), tick=False):
        reply = api.list(limit=2, cursor=cursor)

    assert reply.status == 400, reply
    assert reply.field == "cursor"
    assert reply.body["message"].startswith("cursor expired")


@pytest.fixture
def rotating_cursor_key(monkeypatch):
    """The cursor key in Secrets Manager (moto), as in AWS; DynamoDB still goes to DynamoDB Local."""
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="activity-log-cursor-key", SecretString="key-1")["ARN"]
        monkeypatch.delenv("CURSOR_SECRET", raising=False)
        monkeypatch.setenv("CURSOR_SECRET_NAME", arn)
        _new_container()
        yield lambda value: client.put_secret_value(SecretId=arn, SecretString=value)
    _new_container()


def _new_container(api=None) -> None:
    """Forget every per-process cache, as a Lambda container started now would have none."""
    wiring.reset()
    parameters.clear_caches()
    if api is not None:
        wiring.reset()


def test_a_cursor_keeps_paging_in_another_container_after_the_key_rotates(rotating_cursor_key, api):
    # Given a reader holding the first page's cursor
    written = seed(api, 6)
    first = api.list(limit=2)
    assert first.body["next_cursor"]

    # When the cursor key rotates and the next page is served by a container started after it
    rotating_cursor_key("key-2")
    _new_container(api)
    second = api.list(limit=2, cursor=first.body["next_cursor"])

    # Then paging goes on, and the new cursor (signed with the new key) pages too after another rotation
    assert second.status == 200, second
    rotating_cursor_key("key-3")
    _new_container(api)
    rest = api.list(limit=10, cursor=second.body["next_cursor"])
    assert rest.status == 200, rest
    assert [i["id"] for i in first.body["items"] + second.body["items"] + rest.body["items"]] == written

    # But the first cursor, signed two rotations ago, is refused
    stale = api.list(limit=2, cursor=first.body["next_cursor"])
    assert (stale.status, stale.field) == (400, "cursor"), stale


# -- the OpenAPI document ----------------------------------------------------------------------


def test_openapi_document_lists_the_activities_paths(api):
    # The route has no authorizer, so the event carries no claims.
    reply = api.call("GET", "/openapi.json", token=None)

    assert reply.status == 200, reply
    document = reply.body
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/activities"])
    assert {"get", "patch"} <= set(paths["/activities/{id}"])
    assert "post" in paths["/activities/batch"]
    list_parameters = {p["name"] for p in paths["/activities"]["get"].get("parameters", [])}
    assert {"type", "status", "user", "entity_type", "entity_id", "from", "to", "limit", "cursor"} <= list_parameters


def test_a_finished_entry_says_when_it_finished(api):
    # Given a job that started 10 minutes ago (times from one clock reading: a slow machine takes seconds between calls)
    now = datetime.now(timezone.utc)
    started = api.record(job(occurred_at=(now - timedelta(minutes=10)).isoformat())).body
    assert started["finished_at"] is None
    # When its completion reports when it finished, or a time before it began
    early = api.patch(started["id"], {"status": "SUCCESS", "finished_at": (now - timedelta(minutes=20)).isoformat()})
    done = api.patch(started["id"], {"status": "SUCCESS", "finished_at": (now - timedelta(minutes=4)).isoformat()})
    # Then the impossible time is refused by name, and the real one kept (a six-minute run)
    assert early.status == 400 and early.field == "finished_at"
    assert done.status == 200 and done.body["finished_at"] == api.get(started["id"]).body["finished_at"]
    took = datetime.fromisoformat(done.body["finished_at"]) - datetime.fromisoformat(done.body["occurred_at"])
    assert timedelta(minutes=5, seconds=59) < took < timedelta(minutes=6, seconds=1)
    # And an entry recorded already finished finished when it occurred, unless its writer says otherwise
    instant = api.record(entry()).body
    assert instant["finished_at"] == instant["occurred_at"]
