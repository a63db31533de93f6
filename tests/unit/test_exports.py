"""CSV exports, pure logic: the file's columns and quoting, formula injection, links, filters, failures."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from activitylog.entry import Entry, EntryType, Status
from activitylog.errors import BadRequest, Gone, NotFound
from activitylog.exports import links
from activitylog.exports.csvfile import COLUMNS, CsvWriter, neutralise, row
from activitylog.exports.record import filter_document, parse_filters
from activitylog.exports.service import PART_GROWTH, ExportService, failure_message
from activitylog.signing import StaticKey

ID = "01M8AP55CB939ADHT5N4N8XQT2"
OTHER_ID = "01M8AP55CB939ADHT5N4N8XQT3"
KEY = StaticKey(b"link-secret")
NOW = 1_800_000_000.0


def entry(**overrides) -> Entry:
    fields = dict(
        id=ID, type=EntryType.USER_ACTION, status=Status.SUCCESS, actor={"kind": "user", "id": "u_17", "name": "Riley Park"},
        action="updated", event="Contact updated · Alex Chen", entity={"type": "contact", "id": "c_42", "label": "Alex Chen"},
        changes={"/email": {"before": "a@old.example", "after": "a@new.example"}, "/address/city": {"before": "Napa"}},
        error=None, correlation_id="req_1",
    )
    fields.update(overrides)
    return Entry(**fields)


def parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# -- the file ------------------------------------------------------------------------------


def test_the_header_is_the_issues_columns_in_order():
    assert parsed(CsvWriter(header=True).take()) == [[
        "id", "time", "type", "status", "actor_kind", "actor_id", "actor_name", "action", "event", "entity_type",
        "entity_id", "entity_label", "changed_fields", "error_message", "correlation_id", "trace_id", "span_id"]]
    assert len(COLUMNS) == 17  # the issue's 15, then issue 22's trace ids


def test_a_traced_entry_exports_its_trace_and_an_untraced_one_empty_cells():
    traced = dict(zip(COLUMNS, row(entry(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7")), strict=True))
    assert (traced["trace_id"], traced["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    plain = dict(zip(COLUMNS, row(entry()), strict=True))
    assert (plain["trace_id"], plain["span_id"]) == ("", "")


def test_a_row_holds_every_column_with_the_time_in_iso_8601_utc():
    cells = dict(zip(COLUMNS, row(entry()), strict=True))

    assert cells["id"] == ID
    assert cells["time"] == "2026-11-26T01:05:12.075Z"  # the id's own time part
    assert datetime.fromisoformat(cells["time"]).tzinfo == timezone.utc
    assert (cells["type"], cells["status"], cells["action"]) == ("USER_ACTION", "SUCCESS", "updated")
    assert (cells["actor_kind"], cells["actor_id"], cells["actor_name"]) == ("user", "u_17", "Riley Park")
    assert (cells["entity_type"], cells["entity_id"], cells["entity_label"]) == ("contact", "c_42", "Alex Chen")
    assert json.loads(cells["changed_fields"]) == ["/email", "/address/city"]
    assert (cells["error_message"], cells["correlation_id"]) == ("", "req_1")


def test_an_entry_without_entity_changes_or_error_leaves_those_cells_empty():
    cells = dict(zip(COLUMNS, row(entry(entity=None, changes={}, correlation_id=None)), strict=True))
    assert [cells[c] for c in ("entity_type", "entity_id", "entity_label", "changed_fields", "error_message", "correlation_id")] == [""] * 6


def test_rfc_4180_quoting_reads_back_commas_quotes_line_breaks_and_unicode_exactly():
    # Given an entry whose cells hold every character CSV must quote, and some that are not ASCII
    nasty = 'Alex "Al" Chen, Jr.\r\nsecond line · Rosé ✓'
    writer = CsvWriter(header=True)
    writer.write(entry(event=nasty, error={"message": "line one\nline two, with \"quotes\""}))
    data = writer.take()

    # Then it is UTF-8 with CRLF row ends, and a CSV reader gets every cell back as written
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 3  # header, the row, and the one inside a quoted cell
    header, cells = parsed(data)
    assert dict(zip(header, cells, strict=True))["event"] == nasty
    assert dict(zip(header, cells, strict=True))["error_message"] == 'line one\nline two, with "quotes"'
    assert '"Alex ""Al"" Chen, Jr.' in data.decode("utf-8")  # quotes doubled inside a quoted field


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_neutralised(start):
    dangerous = f"{start}HYPERLINK(\"http://evil.example\",\"click\")"
    writer = CsvWriter()
    writer.write(entry(event=dangerous, actor={"kind": "user", "id": "u_17", "name": dangerous},
                       entity={"type": "contact", "id": "c_1", "label": dangerous}, error={"message": dangerous},
                       correlation_id=f"{start}cmd" if start not in "\t\r" else "req_1"))
    (cells,) = parsed(writer.take())
    values = dict(zip(COLUMNS, cells, strict=True))

    for column in ("event", "actor_name", "entity_label", "error_message"):
        assert values[column] == "'" + dangerous, column
    if start not in "\t\r":
        assert values["correlation_id"] == f"'{start}cmd"


def test_harmless_cells_are_left_as_they_are():
    assert [neutralise(cell) for cell in ("Riley Park", "a=b", "1-2", "", "'quoted")] == ["Riley Park", "a=b", "1-2", "", "'quoted"]


# -- download links ------------------------------------------------------------------------


def test_a_link_grants_its_export_org_and_requester_until_it_expires():
    token = links.mint(KEY, ID, "org_1", "u_17", seconds=7 * 86400, now=NOW)

    link = links.verify(KEY, token, ID, now=NOW + 7 * 86400)

    assert (link.export_id, link.org, link.requester) == (ID, "org_1", "u_17")


def test_an_expired_link_is_gone_saying_so():
    token = links.mint(KEY, ID, "org_1", "u_17", seconds=60, now=NOW)
    with pytest.raises(Gone) as caught:
        links.verify(KEY, token, ID, now=NOW + 61)
    assert caught.value.field == "token" and "expired" in caught.value.message


@pytest.mark.parametrize("case", ["another export", "another key", "tampered payload", "missing", "garbage"])
def test_any_other_token_is_a_404(case):
    token = links.mint(KEY, ID, "org_1", "u_17", seconds=60, now=NOW)
    body, mac = token.split(".")
    forged_body = links.mint(KEY, ID, "org_2", "u_17", seconds=60, now=NOW).split(".")[0]
    attempt = {
        "another export": (KEY, token, OTHER_ID),
        "another key": (StaticKey(b"other"), token, ID),
        "tampered payload": (KEY, f"{forged_body}.{mac}", ID),  # org_2 in the payload, org_1's signature
        "missing": (KEY, None, ID),
        "garbage": (KEY, "not-a-token", ID),
    }[case]
    with pytest.raises(NotFound):
        links.verify(*attempt, now=NOW)


# -- filters: GET /activities' own parser --------------------------------------------------


def test_filters_take_the_lists_keys_and_values_and_record_them_canonically():
    wanted, document = parse_filters({"status": ["WARNING", "FAILED"], "type": "BACKGROUND_JOB", "user": "u_17",
                                      "from": "2026-11-01T00:00:00Z", "to": None})

    assert {s.value for s in wanted.statuses} == {"FAILED", "WARNING"}
    assert document == {"type": ["BACKGROUND_JOB"], "status": ["WARNING", "FAILED"], "user": "u_17",
                        "from": "2026-11-01T00:00:00+00:00"}
    assert parse_filters(document) == (wanted, document)  # what an export records reads back the same
    assert filter_document(parse_filters({})[0]) == {}


@pytest.mark.parametrize("filters, field", [
    ({"limit": "5"}, "filters.limit"),
    ({"cursor": "x"}, "filters.cursor"),
    ({"type": ["NOPE"]}, "filters.type"),
    ({"status": "DONE"}, "filters.status"),
    ({"user": ["u_1", "u_2"]}, "filters.user"),
    ({"type": [1]}, "filters.type"),
    ({"entity_id": "c_1"}, "filters.entity_id"),
    ({"from": "2026-11-01T00:00:00"}, "filters.from"),
    ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "filters.from"),
])
def test_a_bad_filter_is_a_400_naming_it(filters, field):
    with pytest.raises(BadRequest) as caught:
        parse_filters(filters)
    assert caught.value.field == field


# -- the worker's arithmetic and reports ----------------------------------------------------


def test_parts_keep_their_size_then_grow_to_stay_within_s3s_10000_parts():
    service = ExportService.__new__(ExportService)
    service.config = type("Config", (), {"part_bytes": 8 * 2**20})()
    part = 8 * 2**20

    assert service.part_size(0) == part
    assert service.part_size(999 * part) == part
    assert service.part_size(2000 * part) == 2 * part
    assert service.part_size(10**15) == 128 * 2**20  # capped: a worker holds a few parts in memory
    written, parts = 0, 0
    while parts < 10_000:
        written += service.part_size(written)
        parts += 1
    assert written > 800 * 10**9  # S3's 10,000 parts hold the better part of a terabyte
    assert PART_GROWTH == 1000


def test_a_lambda_failure_is_told_by_its_error_type_and_message():
    cause = json.dumps({"errorMessage": "An error occurred (EntityTooSmall)", "errorType": "ClientError", "stackTrace": []})
    assert failure_message({"Error": "ClientError", "Cause": cause}) == "ClientError: An error occurred (EntityTooSmall)"
    assert failure_message({"Error": "States.Timeout", "Cause": "took too long"}) == "States.Timeout: took too long"
    assert failure_message({}) == "Error"
