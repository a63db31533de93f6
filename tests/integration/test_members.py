"""The team members the log has seen (GET /members): the User filter's suggestions, found by name or id on the
server, kept current on write at no request for a member already known (issue 21, item 1).

The directory is DynamoDB Local's; the API's functions are fed API Gateway events (tests/support/api.py).
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager

from activitylog import store, wiring
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
    assert [operation for operation, _ in first] == ["BatchGetItem", "PutItem"]

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

    # A new name is one write, and is what the directory answers
    with directory_requests() as renamed:
        api.record(entry(actor={**RILEY, "name": "Riley Park-Lee"}))
    assert [operation for operation, _ in renamed] == ["BatchGetItem", "PutItem"]
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
