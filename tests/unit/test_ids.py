from datetime import datetime, timedelta, timezone

import pytest

from activitylog import ids
from activitylog.errors import BadRequest

T0 = datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=timezone.utc)


def test_an_id_carries_its_occurrence_time_to_the_millisecond():
    entry_id = ids.new_id(T0)
    assert ids.is_entry_id(entry_id)
    assert ids.occurred_at(entry_id) == T0


def test_ids_sort_by_time_so_newest_first_is_a_reverse_range():
    older, newer = ids.new_id(T0), ids.new_id(T0 + timedelta(milliseconds=1))
    assert older < newer


def test_date_bounds_enclose_exactly_the_ids_of_their_window():
    inside = ids.new_id(T0)
    assert ids.lower_bound(T0) <= inside <= ids.upper_bound(T0)
    assert ids.new_id(T0 - timedelta(milliseconds=1)) < ids.lower_bound(T0)
    assert ids.new_id(T0 + timedelta(milliseconds=1)) > ids.upper_bound(T0)


def test_before_is_the_immediate_predecessor():
    entry_id = ids.new_id(T0)
    previous = ids.before(entry_id)
    assert previous < entry_id and len(previous) == 26
    assert ids.before("00000000000000000000000001") == ids.LOWEST_ID
    assert ids.before("0000000000000000000000000Z") == "0000000000000000000000000Y"
    assert ids.before("00000000000000000000000010") == "0000000000000000000000000Z"


@pytest.mark.parametrize("bad", ["", "abc", "01M8AP55CB939ADHT5N4N8XQT", "01M8AP55CB939ADHT5N4N8XQTU", "81M8AP55CB939ADHT5N4N8XQT2",
                                 "01M8AP55CB939ADHT5N4N8XQT2\n"])  # '$' alone matches before a trailing newline
def test_malformed_ids_are_refused_naming_the_field(bad):
    with pytest.raises(BadRequest) as caught:
        ids.check_entry_id(bad)
    assert caught.value.field == "id"


def test_every_id_the_pattern_takes_either_decodes_or_is_one_no_entry_can_have():
    latest = ids._encode(ids._LATEST_MS, 10)
    for entry_id in ("0" * 26, latest + "Z" * 16, ids._encode(ids._LATEST_MS + 1, 10) + "0" * 16, "7" + "Z" * 25):
        assert ids.is_entry_id(entry_id)
        if ids.can_exist(entry_id):
            ids.occurred_at(entry_id)  # decodes
        else:
            assert entry_id > latest + "Z" * 16
    assert not ids.can_exist("7" + "Z" * 25)
