"""W3C trace correlation: a write's traceparent kept as the entry's trace_id/span_id and searchable with
?trace_id= (the by_trace index). Passing it on to jobs and webhooks (a retry, the activity client) is
tested with the platform bus in test_jobs.py."""

from __future__ import annotations

from tests.support.api import OTHER_ORG_READER, WRITER, Api, entry, job

from .api_events import api_event, claims

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
PARENT = f"00-{TRACE}-{SPAN}-01"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def send(api: Api, method: str, path: str, body, traceparent: str, token=WRITER):
    return api.call(method, path, token=token,
                    raw=api_event(method, path, body=body, claims=token, headers={"traceparent": traceparent}))


def test_a_traceparent_is_kept_on_record_batch_and_patch_and_an_invalid_one_is_ignored(api):
    one = send(api, "POST", "/activities", entry(), PARENT)
    assert one.status == 201, one
    assert (one.body["trace_id"], one.body["span_id"]) == (TRACE, SPAN)
    assert api.get(one.body["id"]).body["trace_id"] == TRACE  # stored, not only answered

    batch = send(api, "POST", "/activities/batch",
                 {"entries": [entry(), entry(trace_id=OTHER_TRACE, span_id=SPAN)]}, PARENT)
    assert batch.status == 200, batch
    first, second = (api.get(r["id"]).body for r in batch.body["results"])
    assert first["trace_id"] == TRACE and second["trace_id"] == OTHER_TRACE  # a body's own trace wins

    started = api.record(job())  # no trace: a PATCH under one gives it
    assert started.status == 201 and started.body["trace_id"] is None
    patched = send(api, "PATCH", f"/activities/{started.body['id']}", {"metadata": {"processed": 5}}, PARENT)
    assert patched.status == 200, patched
    assert (patched.body["trace_id"], patched.body["span_id"]) == (TRACE, SPAN)

    for invalid in (f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01", f"00-{TRACE.upper()}-{SPAN}-01", "garbage"):
        ignored = send(api, "POST", "/activities", entry(), invalid)
        assert ignored.status == 201, ignored  # the spec: ignore it, never refuse the write
        assert ignored.body["trace_id"] is None and ignored.body["span_id"] is None


def test_a_bad_trace_field_in_a_body_is_a_400_naming_it(api):
    for body, field in (
        (entry(trace_id="0" * 32), "trace_id"),
        (entry(trace_id=TRACE.upper()), "trace_id"),
        (entry(trace_id=TRACE, span_id="xyz"), "span_id"),
        (entry(span_id=SPAN), "span_id"),
    ):
        reply = api.record(body)
        assert reply.status == 400 and reply.field == field, (body, reply)
    assert api.list(trace_id="0" * 32).field == "trace_id"
    assert api.list(trace_id="abc").status == 400
    assert api.list(trace_id=TRACE, correlation_id="req_1").field == "trace_id"


def test_the_list_finds_a_trace_by_its_index_and_another_org_never_sees_it(api):
    mine = [send(api, "POST", "/activities", entry(), PARENT).body["id"] for _ in range(3)]
    api.record(entry())  # untraced: not in the trace
    send(api, "POST", "/activities", entry(), f"00-{OTHER_TRACE}-{SPAN}-01")
    other_org = claims(org="org_globex", sub="svc_contacts", scope="activity:write")
    send(api, "POST", "/activities", entry(), PARENT, token=other_org)  # the same trace id in another org

    assert api.ids(trace_id=TRACE) == mine[::-1]
    assert api.ids(trace_id=TRACE, type="BACKGROUND_JOB") == []
    assert len(api.ids(token=OTHER_ORG_READER, trace_id=TRACE)) == 1  # its own entry only
    assert api.ids(trace_id="1" * 32) == []


def test_the_openapi_document_declares_trace_id_and_the_entrys_trace_fields(api):
    document = api.call("GET", "/openapi.json", token=None).body
    (declared,) = [p for p in document["paths"]["/activities"]["get"]["parameters"] if p["name"] == "trace_id"]
    assert declared["schema"] == {"type": "string", "pattern": "^[0-9a-f]{32}$"}
    assert {"trace_id", "span_id"} <= set(document["components"]["schemas"]["EntryDetail"]["properties"])
