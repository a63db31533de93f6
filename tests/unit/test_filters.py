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
        ({"sort": "asc"}, "sort"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(params, field):
    with pytest.raises(BadRequest) as caught:
        parse_list_request(params)
    assert caught.value.field == field
    assert field in caught.value.message
