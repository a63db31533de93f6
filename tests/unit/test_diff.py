from activitylog.diff import changes


def test_only_changed_fields_appear_with_before_and_after():
    before = {"name": "Alex", "email": "a@x.com", "status": "ACTIVE"}
    after = {"name": "Alex Chen", "email": "a@x.com", "status": "ACTIVE"}
    assert changes(before, after) == {"name": {"before": "Alex", "after": "Alex Chen"}}


def test_nested_fields_are_named_by_dotted_path():
    before = {"address": {"city": "Napa", "zip": "94558"}, "tags": ["vip"]}
    after = {"address": {"city": "Sonoma", "zip": "94558"}, "tags": ["vip", "club"]}
    assert changes(before, after) == {
        "address.city": {"before": "Napa", "after": "Sonoma"},
        "tags": {"before": ["vip"], "after": ["vip", "club"]},
    }


def test_added_and_removed_fields_show_none_on_the_missing_side():
    assert changes({"a": 1}, {"b": 2}) == {"a": {"before": 1, "after": None}, "b": {"before": None, "after": 2}}
    assert changes({"x": {"y": 1}}, {}) == {"x": {"before": {"y": 1}, "after": None}}


def test_creation_and_no_change():
    assert changes(None, {"name": "Alex"}) == {"name": {"before": None, "after": "Alex"}}
    assert changes({"a": {"b": 1}}, {"a": {"b": 1}}) == {}
