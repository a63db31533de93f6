"""No 5xx and no silently mangled input: each input below was once a 500, or accepted and
stored as something else. Through the handler, as API Gateway calls it; every answer is
a 4xx ``{message, field}`` and nothing is written.
"""

from __future__ import annotations

import base64
import json

import pytest

from activitylog.scopes import ROUTE_SCOPES

from .api_events import api_event, claims
from tests.support.api import WRITER, Api, entry, job

GOOD_ID = "01JDQ7Z9K3M5N7P9R1T3V5X7Z9"
WRITE_ROUTES = [
    ("POST", "/activities", lambda doc: doc),
    ("POST", "/activities/batch", lambda doc: {"entries": [doc]}),
    ("PATCH", f"/activities/{GOOD_ID}", lambda doc: {"event": doc["event"], "metadata": doc.get("metadata", {"n": 1})}),
]
ROUTE_IDS = ["POST", "batch", "PATCH"]


def send(api: Api, method: str, path: str, body: str | bytes, headers: dict | None = None, base64_encoded: bool = False):
    """A raw body (text or bytes) with the given headers, as API Gateway would pass it."""
    if isinstance(body, bytes):
        body, base64_encoded = base64.b64encode(body).decode(), True
    event = api_event(method, path, body=body, claims=WRITER, headers=headers)
    event["isBase64Encoded"] = base64_encoded
    return api.call(method, path, raw=event)


def refused(reply, status: int, field: str) -> None:
    assert reply.status == status, reply
    assert isinstance(reply.body, dict) and reply.body.get("message") and reply.body.get("field") == field, reply


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


# -- bytes: UTF-8 only, counted in bytes -----------------------------------------------------


@pytest.mark.parametrize(("method", "path", "wrap"), WRITE_ROUTES, ids=ROUTE_IDS)
def test_a_body_that_is_not_utf8_is_a_400_naming_body(api, method, path, wrap):
    # Given a latin-1 body (é is the single byte 0xE9), base64-encoded as API Gateway sends bytes
    latin1 = json.dumps(wrap(entry(event="Café")), ensure_ascii=False).encode("latin-1")

    reply = send(api, method, path, latin1)

    refused(reply, 400, "body")
    assert api.ids() == []


@pytest.mark.parametrize(("method", "path", "wrap"), WRITE_ROUTES, ids=ROUTE_IDS)
def test_a_latin1_charset_is_a_415(api, method, path, wrap):
    reply = send(api, method, path, json.dumps(wrap(entry())), {"content-type": "application/json; charset=iso-8859-1"})

    refused(reply, 415, "content-type")


@pytest.mark.parametrize(("method", "path", "wrap"), WRITE_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("content_type", ["multipart/form-data", "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_by_content_type_is_a_415_naming_content_type(api, method, path, wrap, content_type):
    reply = send(api, method, path, json.dumps(wrap(entry())), {"content-type": content_type})

    refused(reply, 415, "content-type")


def test_the_json_media_type_is_case_insensitive(api):
    reply = send(api, "POST", "/activities", json.dumps(entry()), {"content-type": "APPLICATION/JSON; Charset=UTF-8"})

    assert reply.status == 201, reply


def test_the_1_mib_limit_counts_bytes_not_characters(api):
    # Given 600,000 é: 0.6 M characters but 1.2 MB of UTF-8
    body = json.dumps(entry(metadata={"text": "é" * 600_000}), ensure_ascii=False)
    assert len(body) < 1024 * 1024 < len(body.encode())

    refused(send(api, "POST", "/activities", body), 413, "body")
    assert api.ids() == []


# -- JSON: one object, finite numbers, bounded digits and depth -----------------------------------


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/activities", [entry(), entry(event="second")]),
    ("POST", "/activities/batch", [{"entries": [entry()]}]),
    ("PATCH", f"/activities/{GOOD_ID}", [{"status": "SUCCESS"}, {"status": "FAILED"}]),
], ids=ROUTE_IDS)
def test_a_top_level_array_is_refused_not_cut_to_its_first_element(api, method, path, body):
    refused(send(api, method, path, json.dumps(body)), 400, "body")
    assert api.ids() == []


@pytest.mark.parametrize(("method", "path", "wrap"), WRITE_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("number", ["1e400", "NaN", "-Infinity", "Infinity", "1e-400"])
def test_numbers_json_cannot_carry_are_refused(api, method, path, wrap, number):
    # json.dumps would write the float; the raw text is what a client sends
    text = json.dumps(wrap(entry(metadata={"ratio": "PLACEHOLDER"}))).replace('"PLACEHOLDER"', number)

    refused(send(api, method, path, text), 400, "body")
    assert api.ids() == []


@pytest.mark.parametrize(("method", "path", "wrap"), WRITE_ROUTES, ids=ROUTE_IDS)
def test_an_integer_of_5000_digits_is_refused(api, method, path, wrap):
    text = json.dumps(wrap(entry(metadata={"count": "PLACEHOLDER"}))).replace('"PLACEHOLDER"', "9" * 5000)

    refused(send(api, method, path, text), 400, "body")


@pytest.mark.parametrize(("method", "path", "wrap"), WRITE_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("depth", [256, 10_000])
def test_json_nested_too_deep_is_a_400(api, method, path, wrap, depth):
    text = json.dumps(wrap(entry(metadata={"x": "PLACEHOLDER"}))).replace('"PLACEHOLDER"', "[" * depth + "]" * depth)

    refused(send(api, method, path, text), 400, "body")
    assert api.ids() == []


@pytest.mark.parametrize("field", ["before", "after", "metadata"])
def test_values_deeper_than_the_documented_limit_are_refused_by_field(api, field):
    from activitylog.inputs import MAX_DEPTH

    # Given one level more than the documented limit (the field itself is level 1)
    document = entry(**{field: nested(MAX_DEPTH + 1)})

    refused(api.record(document), 400, field)
    # and exactly the limit is accepted
    assert api.record(entry(**{field: nested(MAX_DEPTH)})).status == 201


def test_a_lone_surrogate_is_refused(api):
    text = json.dumps(entry(event="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800")

    refused(send(api, "POST", "/activities", text), 400, "event")


# -- the batch refuses what a single POST refuses -------------------------------------------------


def test_a_batch_with_an_unknown_key_is_refused_like_a_single_post(api):
    refused(api.call("POST", "/activities/batch", body={"entries": [entry()], "colour": "red"}, token=WRITER), 400, "colour")
    assert api.ids() == []


# -- times at the edges of the calendar ----------------------------------------------------------


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z"])
def test_occurred_at_at_the_edges_of_the_calendar_is_a_400(api, occurred_at):
    refused(api.record(entry(occurred_at=occurred_at)), 400, "occurred_at")


def test_a_batch_entry_at_the_edge_of_the_calendar_is_rejected_alone(api):
    reply = api.call("POST", "/activities/batch", token=WRITER,
                     body={"entries": [entry(occurred_at="0001-01-01T00:00:00+01:00"), entry()]})

    assert reply.status == 207, reply
    assert [r["status"] for r in reply.body["results"]] == ["rejected", "accepted"]
    assert reply.body["results"][0]["field"] == "entries.0.occurred_at"


@pytest.mark.parametrize(("query", "field"), [
    ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
    ({"to": "9999-12-31T23:59:59-01:00"}, "to"),
    ({"from": "2026-11-26T10:00:00"}, "from"),  # no timezone: not guessed
    ({"limit": "٣"}, "limit"),  # an Arabic-Indic three: int() reads it, the API does not
    ({"limit": "1_0"}, "limit"),
    ({"user": "u_1\n"}, "user"),
    ({"entity_type": "contact", "entity_id": "c_42\n"}, "entity_id"),
])
def test_list_parameters_are_read_exactly_or_refused(api, query, field):
    refused(api.list(**query), 400, field)


def test_a_to_in_year_one_lists_nothing_instead_of_failing(api):
    assert api.record(entry()).status == 201

    reply = api.list(to="0001-01-01T00:00:00Z")

    assert reply.status == 200, reply
    assert reply.body["items"] == []


# -- every refusal has one shape --------------------------------------------------------------


def test_a_path_no_route_matches_is_a_404_naming_the_path(api):
    event = api_event("GET", f'/activities/{GOOD_ID}"', claims=WRITER)  # a quote: outside Powertools' path rule

    refused(api.call("GET", "/activities", raw=event), 404, "path")


def test_an_empty_write_body_is_a_400_naming_body(api):
    event = api_event("POST", "/activities", claims=WRITER, headers={"content-type": "text/plain"})

    refused(api.call("POST", "/activities", raw=event), 400, "body")


# -- PATCH takes an Idempotency-Key like the POSTs -----------------------------------------------


def test_a_retried_patch_with_the_same_idempotency_key_applies_once(api, idempotency_table):
    first_job, second_job = (api.record(job()).body["id"] for _ in range(2))

    def patch(entry_id: str, update: dict, key: str | None = None):
        headers = {"Idempotency-Key": key} if key else None
        event = api_event("PATCH", f"/activities/{entry_id}", body=update, claims=WRITER, headers=headers)
        return api.call("PATCH", f"/activities/{entry_id}", raw=event)

    # Given a progress report sent with a key, then a later one without
    once = patch(first_job, {"event": "halfway"}, "k-1")
    assert once.status == 200 and once.body["event"] == "halfway", once
    assert patch(first_job, {"event": "nearly done"}).status == 200

    # When the first is retried with its key
    again = patch(first_job, {"event": "halfway"}, "k-1")

    # Then it gets the first answer and is not applied again
    assert again.status == 200 and again.body == once.body, again
    assert api.get(first_job).body["event"] == "nearly done"
    # And the same key with another body is a 409
    refused(patch(first_job, {"status": "FAILED"}, "k-1"), 409, "idempotency-key")
    # And the key is scoped to the entry: the same key updates another job
    other = patch(second_job, {"status": "SUCCESS"}, "k-1")
    assert other.status == 200 and other.body["status"] == "SUCCESS", other
    assert api.get(first_job).body["status"] == "IN_PROGRESS"


# -- the OpenAPI document names every answer ------------------------------------------------------


def test_the_openapi_document_lists_every_status_each_operation_answers(api):
    document = api.call("GET", "/openapi.json", token=None).body
    writes = {"400", "401", "403", "409", "413", "415", "503"}
    expected = {
        ("/activities", "get"): {"200", "400", "401", "403", "503"},  # 503: DynamoDB did not serve it
        ("/activities/{id}", "get"): {"200", "400", "401", "403", "404", "503"},
        ("/activities", "post"): {"201"} | writes,
        ("/activities/batch", "post"): {"200", "207"} | writes,
        ("/activities/{id}", "patch"): {"200", "404"} | writes,
        ("/activities/{id}/related", "get"): {"200", "400", "401", "403", "404", "503"},
        ("/members", "get"): {"200", "400", "401", "403", "503"},
        ("/catalog", "get"): {"200", "400", "401", "403", "503"},
        ("/activities/{id}/retry", "post"): {"202", "400", "401", "403", "404", "409", "503"},
        ("/settings/retention", "get"): {"200", "401", "403", "503"},
        ("/support/activities/{id}", "get"): {"200", "400", "401", "403", "404", "503"},
        ("/support/activities/{id}/proof", "get"): {"200", "400", "401", "403", "404", "409", "503"},
        ("/support/archive-queries", "post"): {"201", "400", "401", "403", "413", "415", "503"},
        ("/settings/retention", "put"): {"200"} | writes,
        ("/privacy/erasures", "post"): {"201"} | writes,
        ("/settings/privacy", "get"): {"200", "401", "403", "503"},
        ("/settings/privacy", "put"): {"200"} | writes,
        ("/webhooks/{provider}/{org_id}", "post"): {"200", "400", "404", "413", "503"},  # no token: no 401 or 403
        ("/recoveries/{provider}", "post"): {"200", "404"} | writes - {"409"},
        ("/retries", "post"): {"200", "202", "400", "401", "403", "413", "415", "503"},
        ("/retries", "get"): {"200", "401", "403", "503"},
        ("/retries/{id}", "get"): {"200", "400", "401", "403", "404", "503"},
        ("/retries/{id}/cancel", "post"): {"200", "400", "401", "403", "404", "409", "503"},
        ("/exports", "post"): {"200", "202", "400", "401", "403", "413", "415", "503"},
        ("/exports/{id}", "get"): {"200", "400", "401", "403", "404", "410", "503"},
        ("/exports/{id}/download", "get"): {"302", "400", "404", "410", "503"},  # no authorizer: no 401 or 403
        ("/settings/streams", "get"): {"200", "401", "403", "503"},
        ("/settings/streams", "post"): {"201"} | writes,
        ("/settings/streams/{id}", "get"): {"200", "401", "403", "404", "503"},
        ("/settings/streams/{id}", "patch"): {"200", "404"} | writes,
        ("/settings/streams/{id}", "delete"): {"200", "404"} | writes,
        ("/settings/streams/{id}/pause", "post"): {"200", "404"} | writes,
        ("/settings/streams/{id}/resume", "post"): {"200", "404"} | writes,
        ("/settings/streams/{id}/test", "post"): {"200", "404"} | writes,
        ("/settings/streams/{id}/backfill", "post"): {"202", "404"} | writes,
        ("/alerts", "get"): {"200", "401", "403", "503"},
        ("/alerts", "post"): {"201"} | writes,
        ("/alerts/{id}", "get"): {"200", "401", "403", "404", "503"},
        ("/alerts/{id}", "patch"): {"200", "404"} | writes,
        ("/alerts/{id}", "delete"): {"200", "404"} | writes,
        ("/alerts/{id}/pause", "post"): {"200", "404"} | writes,
        ("/alerts/{id}/resume", "post"): {"200", "404"} | writes,
    }

    listed = {(path, method): set(operation["responses"]) for path, item in document["paths"].items() for method, operation in item.items()}

    assert listed == expected
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["message"] and set(error["properties"]) == {"message", "field"}
    assert document["security"] == [{"jwt": []}] and document["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"
    assert document["paths"]["/exports/{id}/download"]["get"]["security"] == []  # an emailed link carries no bearer token
    assert "text/csv" in document["paths"]["/exports"]["post"]["responses"]["200"]["content"]
    assert "Retry-After" in document["paths"]["/activities"]["post"]["responses"]["503"]["headers"]
    assert any(p["name"].lower() == "idempotency-key" for p in document["paths"]["/activities/{id}"]["patch"]["parameters"])
    assert document["paths"]["/webhooks/{provider}/{org_id}"]["post"]["security"] == []  # signed by the provider instead


# -- ids the pattern accepts at its very ends ------------------------------------------------------

# The id pattern takes a first character 0-7: 7ZZZ… is the largest ULID (year 10889, past what a
# datetime holds), 000… the smallest (1970). Each is a well-formed id no entry has: 404, never 500.
EDGE_IDS = ["7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "00000000000000000000000000", "7ZZZZZZZZZ0000000000000000"]
ID_ROUTES = [(route.split(" ", 1)[0], route.split(" ", 1)[1]) for route in ROUTE_SCOPES
             if "{id}" in route and "/exports" not in route]  # export ids are not entry ids: tests/integration/test_exports.py


@pytest.mark.parametrize("entry_id", EDGE_IDS)
@pytest.mark.parametrize(("method", "path"), ID_ROUTES, ids=[f"{m} {p}" for m, p in ID_ROUTES])
def test_every_id_route_answers_an_edge_id_no_entry_has_with_404(api, idempotency_table, method, path, entry_id):
    # (GET /support/activities/{id} with an archive to look in: tests/integration/test_archive.py.)
    token = claims(org="org_acme", sub="u_17", scope=" ".join(sorted(ROUTE_SCOPES[f"{method} {path}"])))
    body = {"PATCH": {"metadata": {"processed": 5}}, "POST": {}}.get(method)

    query = {"reason": "ticket 4312"} if path.startswith("/support/") else None  # support's reads say why
    reply = api.call(method, path.replace("{id}", entry_id), body=body, token=token, query=query)

    assert reply.status == 404 and reply.field == "id", reply
