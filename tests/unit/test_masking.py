"""Masked fields' patterns and markers (activitylog.masking), without storage."""

from __future__ import annotations

import pytest

from activitylog.masking import FieldMask, compile_patterns, is_marker

KEY = b"k" * 32


def mask(*patterns: str) -> FieldMask:
    return FieldMask(compile_patterns(list(patterns)), key=lambda: KEY)


@pytest.mark.parametrize("pattern, path, masked", [
    ("/ssn", ("ssn",), True),
    ("/ssn", ("contact", "ssn"), False),  # a pointer from the root: /ssn is the top-level field only
    ("/**/ssn", ("contact", "ssn"), True),
    ("/**/ssn", ("ssn",), True),  # ** is any number of segments, none too
    ("/payroll/*/salary", ("payroll", "0", "salary"), True),  # * is one segment, an array index too
    ("/payroll/*/salary", ("payroll", "salary"), False),
    ("/payroll/*/salary", ("payroll", "a", "b", "salary"), False),
    ("/a/**/b/*", ("a", "x", "y", "b", "z"), True),
    ("/Card-Number", ("cardnumber",), True),  # names compare without case or separators
    ("/a~1b", ("ab",), True),  # RFC 6901's ~1 is a / in the name; plain names drop it
])
def test_a_pattern_matches_the_paths_json_pointer_and_its_wildcards_say(pattern, path, masked):
    assert mask(pattern).masked(path) is masked


def test_a_whole_object_under_a_masked_name_becomes_one_marker_and_markers_are_never_masked_again():
    once = mask("/payment").document({"payment": {"card": "4242", "brand": "visa"}, "plan": "pro"})
    assert is_marker(once["payment"]) and once["plan"] == "pro"
    assert mask("/payment").document(once) == once  # a job update re-saving its entry keeps what it holds


def test_equal_values_fingerprint_alike_as_json_and_another_key_differs():
    a = mask().document({"password": {"x": 1, "y": [1.0]}})["password"]["fingerprint"]
    b = mask().document({"password": {"y": [1], "x": 1}})["password"]["fingerprint"]
    other = FieldMask(compile_patterns([]), key=lambda: b"o" * 32).document({"password": {"x": 1, "y": [1]}})
    assert a == b != other["password"]["fingerprint"]


def test_the_key_is_asked_for_only_when_a_value_is_masked():
    asked = []
    quiet = FieldMask(compile_patterns([]), key=lambda: asked.append(1) or KEY)
    quiet.document({"name": "Alex", "items": [{"sku": "A1"}]})
    assert asked == []
    quiet.document({"token": "t"})
    quiet.document({"token": "u"})
    assert asked == [1]


def test_a_changes_diff_keeps_a_masked_change_as_markers_and_drops_one_that_kept_its_value():
    shown = mask("/ssn").changes({
        "/ssn": {"before": "1", "after": "2"},
        "/contact/password": {"before": "same", "after": "same"},
        "/address": {"after": {"city": "Napa", "ssn": "3"}},
        "/name": {"before": "A"},
    })
    assert set(shown) == {"/ssn", "/address", "/name"}
    assert is_marker(shown["/ssn"]["before"]) and is_marker(shown["/ssn"]["after"])
    assert shown["/address"]["after"]["city"] == "Napa" and not is_marker(shown["/address"]["after"]["ssn"])  # /ssn: top level
    assert shown["/name"] == {"before": "A"}
