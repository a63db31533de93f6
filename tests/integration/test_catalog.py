"""The org's vocabulary (GET /catalog): types, statuses and entity types with labels, the actions and webhook
events its log has seen with a count and when last seen, and the job types with whether they can be retried
(issue 22, item 2). The counts are kept on write in the org's meta partition, at most one write per name per
container per interval: never a scan.

The table is DynamoDB Local's; the API's functions are fed API Gateway events (tests/support/api.py).
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

from activitylog import store
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.entry import iso_time
from activitylog.service import ActivityService, Caller
from activitylog.store import catalog
from tests.support.api import OTHER_ORG_READER, OTHER_ORG_WRITER, READER, WRITER, entry, job

STRIPE = {"kind": "external", "id": "stripe", "name": "Stripe"}
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def webhook(event: str, **overrides) -> dict:
    return entry(type="WEBHOOK", actor=STRIPE, action="received", event=event,
                 entity={"type": "payment", "id": "pi_1", "label": "Payment pi_1"}, **overrides)


def at(minutes_ago: int) -> str:
    return iso_time(NOW - timedelta(minutes=minutes_ago))


def read_catalog(api, token=READER, **query) -> dict:
    reply = api.call("GET", "/catalog", query=query or None, token=token)
    assert reply.status == 200, reply
    return reply.body


@pytest.fixture
def every_write(monkeypatch):
    """Each container writes a name's count with every entry (no interval): what the counters hold is then exact."""
    monkeypatch.setattr(catalog.Catalog, "catalog_interval", 0.0)


@contextmanager
def catalogue_requests():
    """Every DynamoDB request of the store's client that names a catalogue item (``catalog#…``): (operation, params)."""
    events = store.table_connection().connection.client.meta.events
    seen: list[tuple[str, dict]] = []

    def record(params, model, **_):
        if "catalog#" in json.dumps(params, default=str):
            seen.append((model.name, params))

    events.register("provide-client-params.dynamodb", record, unique_id="catalogue-requests")
    try:
        yield seen
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id="catalogue-requests")


def test_the_catalogue_answers_the_vocabulary_and_each_action_and_webhook_event_with_its_count_and_last_seen(api, every_write):
    # Given three contact updates, a job, two Stripe events of one kind and one of another
    for minutes_ago in (30, 10, 20):
        assert api.record(entry(occurred_at=at(minutes_ago))).status == 201
    assert api.record(job(occurred_at=at(5))).status == 201
    for event, minutes_ago in (("invoice.paid", 3), ("invoice.paid", 4), ("charge.refunded", 2)):
        assert api.record(webhook(event, occurred_at=at(minutes_ago))).status == 201

    answer = read_catalog(api)

    # The fixed vocabulary, each value with the label the page shows
    assert {"value": "USER_ACTION", "label": "User action"} in answer["types"]
    assert [s["value"] for s in answer["statuses"]] == ["SUCCESS", "IN_PROGRESS", "WARNING", "FAILED"]
    assert {"value": "team_member", "label": "Team member"} in answer["entity_types"]
    # What the log has seen, most used first, with the latest entry's time (not the last one written)
    assert answer["actions"] == [
        {"type": "WEBHOOK", "action": "received", "count": 3, "last_seen": at(2)},
        {"type": "USER_ACTION", "action": "updated", "count": 3, "last_seen": at(10)},
        {"type": "BACKGROUND_JOB", "action": "processed", "count": 1, "last_seen": at(5)},
    ]
    assert answer["events"] == [
        {"event": "invoice.paid", "count": 2, "last_seen": at(3)},
        {"event": "charge.refunded", "count": 1, "last_seen": at(2)},
    ]
    # The job register, with whether Retry can run each again
    jobs = {j["name"]: j for j in answer["job_types"]}
    assert jobs["SYNC_SQUARE_STOCK"] == {"name": "SYNC_SQUARE_STOCK", "label": "Square stock sync", "retryable": True}
    assert jobs["IMPORT_CONTACTS"]["retryable"] is False

    # One type's actions and events only
    webhooks = read_catalog(api, type="WEBHOOK")
    assert [a["action"] for a in webhooks["actions"]] == ["received"] and len(webhooks["events"]) == 2
    users = read_catalog(api, type="USER_ACTION")
    assert [a["action"] for a in users["actions"]] == ["updated"] and users["events"] == []


def test_another_orgs_vocabulary_never_shows(api, every_write):
    api.record(entry(action="archived"), token=WRITER)
    api.record(entry(action="merged"), token=OTHER_ORG_WRITER)
    api.record(webhook("customer.deleted"), token=OTHER_ORG_WRITER)

    assert [(a["action"], a["count"]) for a in read_catalog(api, token=READER)["actions"]] == [("archived", 1)]
    assert read_catalog(api, token=READER)["events"] == []
    other = read_catalog(api, token=OTHER_ORG_READER)
    assert sorted(a["action"] for a in other["actions"]) == ["merged", "received"]
    assert [e["event"] for e in other["events"]] == ["customer.deleted"]


def test_a_name_is_written_at_most_once_per_container_per_interval_with_what_it_counted_meanwhile(api, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(catalog.time, "monotonic", lambda: clock[0])
    api.list()  # the container is built

    # A name new to the container is written at once: the catalogue shows it as soon as it is recorded
    with catalogue_requests() as first:
        api.record(entry(occurred_at=at(9)))
    assert [operation for operation, _ in first] == ["UpdateItem"]
    # More of it within the interval, alone and in a batch: no request, counted in the container
    with catalogue_requests() as within:
        api.record(entry(occurred_at=at(8)))
        reply = api.call("POST", "/activities/batch", body={"entries": [entry(occurred_at=at(7)), entry(occurred_at=at(6))]},
                         token=WRITER)
        assert reply.status == 200, reply
    assert within == []
    assert [(a["count"], a["last_seen"]) for a in read_catalog(api)["actions"]] == [(1, at(9))]

    # Once the interval is up, the next one writes all it counted: one request
    clock[0] += catalog.CATALOG_INTERVAL
    with catalogue_requests() as after:
        api.record(entry(occurred_at=at(5)))
    assert [operation for operation, _ in after] == ["UpdateItem"]
    assert [(a["count"], a["last_seen"]) for a in read_catalog(api)["actions"]] == [(5, at(5))]


def test_concurrent_writers_leave_exact_counts_and_the_latest_last_seen(activity_table, every_write):
    # Given eight containers (each its own tally), each recording six entries of two actions and a webhook event at once,
    # dated so that each container's latest entries are not the ones it writes last
    from activitylog.inputs import NewEntry

    services = [
        ActivityService(Settings(table_name=activity_table, detail_bucket=None, cursor_secret="x", policy_seconds=0),
                        store.EntryStore(DetailStore(None)))
        for _ in range(8)
    ]
    writer = Caller("org_acme", "svc_contacts", frozenset({"activity:write"}))
    start = threading.Barrier(len(services))
    errors: list[BaseException] = []

    def write(number: int, service: ActivityService) -> None:
        try:
            start.wait()
            for index in range(3):
                minutes_ago = 10 * (index + 1) + number  # writer 0's first entries are the latest of all
                service.record(writer, NewEntry.model_validate(entry(action="updated", occurred_at=at(minutes_ago))))
                service.record(writer, NewEntry.model_validate(webhook("invoice.paid", occurred_at=at(minutes_ago + 1))))
        except BaseException as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every use is counted once, and last seen is the latest entry's time whoever wrote last
    assert errors == []
    reader = Caller("org_acme", "u_17", frozenset({"activity:read"}))
    answer = services[3].catalog(reader)
    assert {(a["type"], a["action"]): (a["count"], a["last_seen"]) for a in answer["actions"]} == {
        ("USER_ACTION", "updated"): (24, at(10)),
        ("WEBHOOK", "received"): (24, at(11)),
    }
    assert answer["events"] == [{"event": "invoice.paid", "count": 24, "last_seen": at(11)}]


def test_a_catalogue_write_that_fails_never_refuses_the_entry_and_its_uses_go_with_the_next(api, every_write, monkeypatch):
    real_add = catalog._add
    failing = [True]

    def add(org, name, uses, latest):
        if failing[0]:
            raise RuntimeError("DynamoDB is unreachable")
        real_add(org, name, uses, latest)

    monkeypatch.setattr(catalog, "_add", add)
    reply = api.record(entry(occurred_at=at(3)))
    assert reply.status == 201 and api.get(reply.body["id"]).status == 200
    assert read_catalog(api)["actions"] == []

    failing[0] = False
    api.record(entry(occurred_at=at(4)))
    assert [(a["count"], a["last_seen"]) for a in read_catalog(api)["actions"]] == [(2, at(3))]


def test_bad_input_is_a_400_naming_the_parameter(api):
    for query, field in [({"type": "USER"}, "type"), ({"type": ""}, "type"), ({"q": "x"}, "q"), ({"limit": "5"}, "limit")]:
        reply = api.call("GET", "/catalog", query=query)
        assert (reply.status, reply.field) == (400, field), (query, reply)


def test_the_catalogue_needs_a_read_scope(api):
    reply = api.call("GET", "/catalog", token=WRITER)
    assert (reply.status, reply.field) == (403, "scope"), reply
