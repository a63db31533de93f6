from datetime import datetime, timezone

import pytest

from activitylog.entry import EntryType, Status
from activitylog.errors import BadRequest
from activitylog.query.filters import DEFAULT_LIMIT, parse_list_request


def test_multi_selects_accept_commas_as_api_gateway_joins_repeats():
    request = parse_list_request({"type": "BACKGROUND_JOB,WEBHOOK", "status": "FAILED, WARNING"})
    assert request.filter.types == {EntryType.BACKGROUND_JOB, EntryType.WEBHOOK}
    assert request.filter.statuses == {Status.FAILED, Status.WARNING}
    assert request.limit == DEFAULT_LIMIT


def test_default_window_is_the_last_24_hours():
    now = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
    low, high = parse_list_request({}).filter.window(now)
    assert (high - low).total_seconds() == 24 * 3600 and high == now


def test_digest_ignores_order_but_not_values():
    a = parse_list_request({"status": "FAILED,WARNING"}).filter
    b = parse_list_request({"status": "WARNING,FAILED"}).filter
    c = parse_list_request({"status": "FAILED"}).filter
    assert a.digest() == b.digest() != c.digest()


def test_a_chain_is_a_filter_of_its_own_and_other_filter_sets_keep_their_digest():
    chain = parse_list_request({"correlation_id": "req_42"}).filter
    assert chain.correlation_id == "req_42"
    assert chain.digest() != parse_list_request({}).filter.digest()
    # Cursors handed out before the chain filter existed still verify: the digest main computed for no filter.
    assert parse_list_request({}).filter.digest() == "69222c0efb99eae30e0c70e745155a4669d103601aef837b8cbd121b5112cad7"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"type": "JOB"}, "type"),
        ({"status": "DONE"}, "status"),
        ({"status": "FAILED,"}, "status"),
        ({"from": "2026-11-26T10:00:00Z", "to": "2026-11-25T10:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"entity_type": "wine"}, "entity_type"),
        ({"entity_id": "c_1"}, "entity_id"),
        ({"user": "u#1"}, "user"),
        ({"correlation_id": "req#1"}, "correlation_id"),
        ({"sort": "asc"}, "sort"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(params, field):
    with pytest.raises(BadRequest) as caught:
        parse_list_request(params)
    assert caught.value.field == field
    assert field in caught.value.message


def test_trace_id_is_a_w3c_trace_id_bound_into_the_cursor_and_not_combined_with_a_chain():
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    traced = parse_list_request({"trace_id": trace}).filter
    assert traced.trace_id == trace
    assert traced.digest() != parse_list_request({}).filter.digest()
    assert parse_list_request({}).filter.digest() == parse_list_request({"trace_id": ""}).filter.digest()
    for bad in ("0" * 32, trace.upper(), trace[:-1], "req_1"):
        with pytest.raises(BadRequest) as refused:
            parse_list_request({"trace_id": bad})
        assert refused.value.field == "trace_id"
    with pytest.raises(BadRequest) as both:
        parse_list_request({"trace_id": trace, "correlation_id": "req_1"})
    assert both.value.field == "trace_id"
