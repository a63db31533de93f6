"""The team members the log has seen (GET /members): the User filter's suggestions, found by name or id on the
server, kept current on write at no request for a member already known (issue 21, item 1).

The directory is DynamoDB Local's; the API's functions are fed API Gateway events (tests/support/api.py).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from contextlib import contextmanager

from activitylog import store, wiring
from activitylog.store import actors
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.service import ActivityService
from tests.support.api import OTHER_ORG_READER, OTHER_ORG_WRITER, READER, WRITER, entry, job

CASEY = {"kind": "user", "id": "u_64", "name": "Casey Nguyen"}
RILEY = {"kind": "user", "id": "u_17", "name": "Riley Park"}


def members(api, token=READER, **query) -> list[dict]:
    reply = api.call("GET", "/members", query=query or None, token=token)
    assert reply.status == 200, reply
    assert set(reply.body) == {"items"}
    return reply.body["items"]


@contextmanager
def directory_requests():
    """Every DynamoDB request of the store's client that names a directory item (``actor#…``): (operation, params)."""
    events = store.table_connection().connection.client.meta.events
    seen: list[tuple[str, dict]] = []

    def record(params, model, **_):
        if "actor#" in json.dumps(params, default=str):
            seen.append((model.name, params))

    events.register("provide-client-params.dynamodb", record, unique_id="directory-requests")
    try:
        yield seen
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id="directory-requests")


def test_a_member_is_found_by_name_or_id_from_the_first_letter_once_they_have_an_entry(api):
    # Given entries by two team members, a job and a webhook
    api.record(entry(actor=CASEY))
    api.record(entry(actor=RILEY))
    api.record(job())
    api.record(entry(type="WEBHOOK", actor={"kind": "external", "id": "stripe", "name": "Stripe"}))

    # Then each is found by any part of their name or id, whatever the case; the system and Stripe are no team members
    assert members(api, q="c") == [{"id": "u_64", "name": "Casey Nguyen"}]
    assert members(api, q="NGUY") == [{"id": "u_64", "name": "Casey Nguyen"}]
    assert members(api, q="u_17") == [{"id": "u_17", "name": "Riley Park"}]
    assert members(api) == [{"id": "u_64", "name": "Casey Nguyen"}, {"id": "u_17", "name": "Riley Park"}]
    assert members(api, q="nobody") == []
    # an exact id first, then by name; at most `limit`
    assert [m["id"] for m in members(api, q="u_", limit="1")] == ["u_64"]


def test_another_orgs_members_never_show(api):
    api.record(entry(actor=CASEY), token=WRITER)
    api.record(entry(actor={"kind": "user", "id": "u_99", "name": "Sam Lee"}), token=OTHER_ORG_WRITER)

    assert members(api, token=READER) == [{"id": "u_64", "name": "Casey Nguyen"}]
    assert members(api, token=READER, q="Sam") == [] and members(api, token=READER, q="u_99") == []
    assert members(api, token=OTHER_ORG_READER) == [{"id": "u_99", "name": "Sam Lee"}]
    assert members(api, token=OTHER_ORG_READER, q="Casey") == []


def test_a_known_member_costs_no_request_a_new_container_reads_but_never_writes_and_a_new_name_one_write(api):
    # Given Riley's first entry, which puts Riley in the directory (the container built by a read first)
    api.list()
    with directory_requests() as first:
        api.record(entry(actor=RILEY))
    assert [operation for operation, _ in first] == ["BatchGetItem", "UpdateItem"]

    # When Riley records more, alone and in a batch, in the same container: no request for the directory at all
    with directory_requests() as known:
        api.record(entry(actor=RILEY))
        reply = api.call("POST", "/activities/batch", body={"entries": [entry(actor=RILEY), entry(actor=RILEY)]}, token=WRITER)
        assert reply.status == 200, reply
    assert known == []

    # A new container (a cold start) reads whether Riley is known, and writes nothing
    wiring.reset()
    api.list()
    with directory_requests() as cold:
        api.record(entry(actor=RILEY))
        api.record(entry(actor=RILEY))
    assert [operation for operation, _ in cold] == ["BatchGetItem"]

    # A new name is one write (the container knows Riley: no read), and is what the directory answers
    with directory_requests() as renamed:
        api.record(entry(actor={**RILEY, "name": "Riley Park-Lee"}))
    assert [operation for operation, _ in renamed] == ["UpdateItem"]
    assert members(api, q="riley") == [{"id": "u_17", "name": "Riley Park-Lee"}]


def test_writers_racing_on_a_new_member_each_record_and_the_directory_holds_them_once(activity_table):
    # Given eight containers (each its own cache) recording a first entry by the same new member at once
    services = [
        ActivityService(Settings(table_name=activity_table, detail_bucket=None, cursor_secret="x", policy_seconds=0),
                        store.EntryStore(DetailStore(None)))
        for _ in range(8)
    ]
    from activitylog.inputs import NewEntry
    from activitylog.service import Caller

    writer = Caller("org_acme", "svc_contacts", frozenset({"activity:write"}))
    start = threading.Barrier(len(services))
    errors: list[BaseException] = []
    written: list[str] = []

    def write(service: ActivityService) -> None:
        try:
            start.wait()
            written.append(service.record(writer, NewEntry.model_validate(entry(actor=CASEY))).id)
        except BaseException as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    threads = [threading.Thread(target=write, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every entry is written, and the directory holds the member once
    assert errors == [] and len(set(written)) == 8
    reader = Caller("org_acme", "u_17", frozenset({"activity:read"}))
    assert services[0].members(reader, "casey", 20) == [{"id": "u_64", "name": "Casey Nguyen"}]
    client = store.table_connection().connection.client
    items = client.query(TableName=activity_table, KeyConditionExpression="pk = :pk AND begins_with(sk, :actor)",
                         ExpressionAttributeValues={":pk": {"S": "org_acme#meta"}, ":actor": {"S": "actor#"}})["Items"]
    assert [item["sk"]["S"] for item in items] == ["actor#u_64"]


def test_bad_input_is_a_400_naming_the_parameter(api):
    for query, field in [({"q": "x" * 101}, "q"), ({"limit": "0"}, "limit"), ({"limit": "51"}, "limit"),
                         ({"limit": "ten"}, "limit"), ({"name": "Casey"}, "name")]:
        reply = api.call("GET", "/members", query=query)
        assert (reply.status, reply.field) == (400, field), (query, reply)


def test_members_need_a_read_scope(api):
    reply = api.call("GET", "/members", token=WRITER)
    assert (reply.status, reply.field) == (403, "scope"), reply


@contextmanager
def table_requests():
    """Every DynamoDB request of the store's client: (operation, params)."""
    events = store.table_connection().connection.client.meta.events
    seen: list[tuple[str, dict]] = []

    def record(params, model, **_):
        seen.append((model.name, params))

    events.register("provide-client-params.dynamodb", record, unique_id="table-requests")
    try:
        yield seen
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id="table-requests")


TWO_YEARS = {"from": (datetime.now(timezone.utc) - timedelta(days=729)).isoformat(timespec="seconds").replace("+00:00", "Z")}


def listed(api, **query) -> list[str]:
    reply = api.list(**query)
    assert reply.status == 200, reply
    return [item["id"] for item in reply.body["items"]]


def test_a_filter_the_member_never_recorded_is_answered_from_the_directory_without_reading_an_entry(api):
    # Given Casey's contact updates, and a job Casey started
    updates = [api.record(entry(actor=CASEY)).body["id"] for _ in range(3)]
    started = api.record({**job(), "actor": CASEY, "entity": {"type": "integration", "id": "int_square", "label": "Square"}}).body["id"]
    api.list()  # the reading container exists

    # When the page asks for Casey's webhooks, or Casey's entries about payments, over two years
    for query in ({"user": CASEY["id"], "type": "WEBHOOK"}, {"user": CASEY["id"], "entity_type": "payment"},
                  {"user": CASEY["id"], "type": "WEBHOOK,SYSTEM_EVENT", "status": "FAILED"}):
        with table_requests() as asked:
            reply = api.list(**query, **TWO_YEARS)
        # Then the answer is empty and final, from one consistent read of Casey's directory item: no entry read
        assert reply.status == 200 and reply.body == {"items": [], "next_cursor": None}, (query, reply)
        assert [(operation, params["Key"]["sk"]["S"], params["ConsistentRead"]) for operation, params in asked] == [
            ("GetItem", "actor#u_64", True)], query

    # What Casey did record is read as before
    assert sorted(listed(api, user=CASEY["id"], type="USER_ACTION", **TWO_YEARS)) == sorted(updates)
    assert listed(api, user=CASEY["id"], entity_type="integration", **TWO_YEARS) == [started]

    # And a webhook Casey records later is found at once, though this container read "none" before
    sent = api.record(entry(actor=CASEY, type="WEBHOOK", action="sent", event="Webhook sent · order.created")).body["id"]
    assert listed(api, user=CASEY["id"], type="WEBHOOK", **TWO_YEARS) == [sent]


def test_a_member_the_directory_knew_before_it_kept_kinds_is_read_as_before(api, activity_table):
    # Given Riley's directory item as it was written before kinds were kept (a name and a first-seen only)
    client = store.table_connection().connection.client
    client.put_item(TableName=activity_table, Item={
        "pk": {"S": "org_acme#meta"}, "sk": {"S": "actor#u_17"}, "an": {"S": "Riley Park"}, "fs": {"N": "1"}})
    first = api.record(entry(actor=RILEY, type="WEBHOOK", action="sent", event="Webhook sent")).body["id"]
    wiring.reset()  # another container, which knows nothing of Riley
    api.list()
    assert api.record(entry(actor=RILEY)).status == 201  # kinds kept from now on: the webhook before is not among them

    # Then the directory cannot vouch for what Riley recorded before, and the list reads the entries
    assert listed(api, user=RILEY["id"], type="WEBHOOK", **TWO_YEARS) == [first]
    with table_requests() as asked:
        assert listed(api, user=RILEY["id"], entity_type="payment", **TWO_YEARS) == []
    assert any(operation == "Query" for operation, _ in asked)


def test_the_directory_is_written_before_the_entry_so_a_reader_between_them_never_misses_a_stored_entry(api, monkeypatch):
    # Given Casey's first entries (contact updates), and a writer paused after its directory write, before its entry
    api.record(entry(actor=CASEY))
    noted, release = threading.Event(), threading.Event()
    real_write = actors.write_member

    def write_then_pause(*arguments, **options):
        real_write(*arguments, **options)
        noted.set()
        release.wait(10)

    monkeypatch.setattr(actors, "write_member", write_then_pause)
    writer = threading.Thread(target=lambda: api.record(entry(actor=CASEY, type="WEBHOOK", action="sent", event="Sent")))
    writer.start()
    assert noted.wait(10)

    # When a reader asks for Casey's webhooks between the two writes: none is stored, none is answered
    assert listed(api, user=CASEY["id"], type="WEBHOOK", **TWO_YEARS) == []
    # Then once the entry is stored, the same reader (whose directory read said "none") finds it
    release.set()
    writer.join(10)
    assert len(listed(api, user=CASEY["id"], type="WEBHOOK", **TWO_YEARS)) == 1


def test_a_directory_that_cannot_be_written_refuses_the_entry_whole_and_the_same_write_sent_again_records_both(api):
    from tests.integration.api_events import LambdaContext, api_event, handler_module
    from tests.support.faults import directory_writes_refused

    api.list()
    event = api_event("POST", "/activities", body=entry(actor=CASEY), claims=WRITER)
    with directory_writes_refused():
        response = handler_module("POST", "/activities").lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 503, response
    assert api.ids() == [] and members(api) == []

    assert api.record(entry(actor=CASEY)).status == 201
    assert len(api.ids()) == 1 and members(api) == [{"id": "u_64", "name": "Casey Nguyen"}]
