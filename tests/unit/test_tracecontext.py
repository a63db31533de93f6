"""Parsing W3C traceparent: what is kept, what is ignored (the spec's invalid values)."""

import pytest

from activitylog.tracecontext import from_headers, parse_traceparent, traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_a_valid_traceparent_gives_its_trace_and_parent_ids():
    assert parse_traceparent(f"00-{TRACE}-{SPAN}-01") == (TRACE, SPAN)
    assert parse_traceparent(f"00-{TRACE}-{SPAN}-00") == (TRACE, SPAN)


def test_a_later_version_is_read_by_its_first_four_fields():
    assert parse_traceparent(f"cc-{TRACE}-{SPAN}-01-what-the-future-adds") == (TRACE, SPAN)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE.upper()}-{SPAN}-01",  # uppercase hex
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE[:-1]}-{SPAN}-01",  # short trace id
        f"00-{TRACE}-{SPAN}0-01",  # long parent id
        f"00-{TRACE}-{SPAN}",  # no flags
        f"0-{TRACE}-{SPAN}-01",
        "not a traceparent",
    ],
)
def test_an_invalid_traceparent_is_ignored(value):
    assert parse_traceparent(value) is None


def test_headers_are_read_case_insensitively_and_a_trace_is_passed_on_as_a_header():
    assert from_headers({"TraceParent": traceparent(TRACE, SPAN)}) == (TRACE, SPAN)
    assert from_headers({"x-other": "1"}) is None
