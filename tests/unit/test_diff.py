import json
import math

import jsonpatch
import jsonpointer
from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog.diff import changes, is_pointer


def test_only_changed_fields_appear_with_before_and_after():
    before = {"name": "Alex", "email": "a@x.com", "status": "ACTIVE"}
    after = {"name": "Alex Chen", "email": "a@x.com", "status": "ACTIVE"}
    assert changes(before, after) == {"/name": {"before": "Alex", "after": "Alex Chen"}}


def test_nested_fields_are_named_by_json_pointer():
    before = {"address": {"city": "Napa", "zip": "94558"}, "tags": ["vip"]}
    after = {"address": {"city": "Sonoma", "zip": "94558"}, "tags": ["vip", "club"]}
    assert changes(before, after) == {
        "/address/city": {"before": "Napa", "after": "Sonoma"},
        "/tags": {"before": ["vip"], "after": ["vip", "club"]},
    }


def test_a_dotted_key_and_a_nested_key_are_two_changes():
    # The example: with dotted paths both were "a.b" and one hid the other.
    assert changes({"a.b": 1, "a": {"b": 10}}, {"a.b": 2, "a": {"b": 20}}) == {
        "/a.b": {"before": 1, "after": 2},
        "/a/b": {"before": 10, "after": 20},
    }


def test_slash_and_tilde_in_keys_are_escaped():
    assert changes({"a/b": 1, "~": 1, "": 1}, {"a/b": 2, "~": 2, "": 2}) == {
        "/": {"before": 1, "after": 2},
        "/a~1b": {"before": 1, "after": 2},
        "/~0": {"before": 1, "after": 2},
    }


def test_an_absent_field_is_not_a_null_one():
    # Absent: no "before" (added) or no "after" (removed). Null is a value like any other.
    assert changes({"a": 1}, {"b": 2}) == {"/a": {"before": 1}, "/b": {"after": 2}}
    assert changes({"x": {"y": 1}}, {}) == {"/x": {"before": {"y": 1}}}
    assert changes({"a": None}, {}) == {"/a": {"before": None}}
    assert changes({}, {"a": None}) == {"/a": {"after": None}}
    assert changes({"a": None}, {"a": 1}) == {"/a": {"before": None, "after": 1}}


def test_values_compare_as_json_not_as_python():
    assert changes({"a": True, "b": 0, "c": [1]}, {"a": 1, "b": False, "c": [True]}) == {
        "/a": {"before": True, "after": 1},
        "/b": {"before": 0, "after": False},
        "/c": {"before": [1], "after": [True]},
    }
    assert changes({"n": {"deep": {"x": 0}}}, {"n": {"deep": {"x": False}}}) == {"/n/deep/x": {"before": 0, "after": False}}


def test_numbers_compare_by_value():
    # JSON has one number type: 1 and 1.0 are the same number (RFC 6902's "test" says so too).
    assert changes({"a": 1, "b": [2]}, {"a": 1.0, "b": [2.0]}) == {}
    assert changes({"a": 1}, {"a": 1.5}) == {"/a": {"before": 1, "after": 1.5}}


def test_creation_and_no_change():
    assert changes(None, {"name": "Alex"}) == {"/name": {"after": "Alex"}}
    assert changes({"a": {"b": 1}}, {"a": {"b": 1}}) == {}
    assert changes({"a": {}}, {"a": {}}) == {}


def test_pointers_are_rfc_6901_paths_below_the_root():
    assert all(is_pointer(p) for p in ("/a", "/a/b", "/a~1b", "/~0", "/", "/a.b"))
    assert not any(is_pointer(p) for p in ("", "a", "a.b", "/a~2", "/a~", 7, None))


# -- properties: every real JSON change is reported, and only those ------------------------------

# A few keys that collide under dotted paths or need escaping, so the draws exercise both.
KEYS = st.sampled_from(["a", "b", "a.b", "a/b", "~", "~1", ""])
SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 2.5]) | st.sampled_from(["", "a", "1"])
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
DOCUMENTS = st.dictionaries(KEYS, JSON, max_size=5)


def _canonical(value):
    """JSON text in which true and 1 differ but 1 and 1.0 do not (numbers as JSON means them)."""
    def number(v):
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            return int(v)
        if isinstance(v, list):
            return [number(x) for x in v]
        if isinstance(v, dict):
            return {k: number(x) for k, x in v.items()}
        return v
    return json.dumps(number(value), sort_keys=True)


def _as_patch(diff: dict) -> list[dict]:
    """The reported changes as JSON Patch operations (RFC 6902), applied by an independent library."""
    operations = []
    for path, change in diff.items():
        if "before" not in change:
            operations.append({"op": "add", "path": path, "value": change["after"]})
        elif "after" not in change:
            operations.append({"op": "remove", "path": path})
        else:
            operations.append({"op": "replace", "path": path, "value": change["after"]})
    return operations


@st.composite
def before_and_after(draw):
    """Two versions of a record; often the second is the first with a few keys edited, as in real updates."""
    before = draw(DOCUMENTS)
    if draw(st.booleans()):
        return before, draw(DOCUMENTS)
    after = json.loads(json.dumps(before))
    for key in draw(st.lists(KEYS, max_size=3)):
        if draw(st.booleans()) and isinstance(after.get(key), dict):
            after[key][draw(KEYS)] = draw(JSON)
        elif draw(st.booleans()):
            after.pop(key, None)
        else:
            after[key] = draw(JSON)
    return before, after


@settings(max_examples=400, deadline=None)
@given(before_and_after())
def test_applying_the_changes_to_before_gives_after(pair):
    before, after = pair

    patched = jsonpatch.apply_patch(before, _as_patch(changes(before, after)))

    assert _canonical(patched) == _canonical(after)


@settings(max_examples=400, deadline=None)
@given(before_and_after())
def test_every_reported_change_is_a_real_change_of_a_leaf(pair):
    before, after = pair
    missing = object()

    for path, change in changes(before, after).items():
        old = jsonpointer.resolve_pointer(before, path, missing)
        new = jsonpointer.resolve_pointer(after, path, missing)
        # The stored sides are the documents' own values, absent exactly where the path is absent.
        assert ("before" in change) == (old is not missing)
        assert ("after" in change) == (new is not missing)
        assert "before" not in change or json.dumps(change["before"], sort_keys=True) == json.dumps(old, sort_keys=True)
        assert "after" not in change or json.dumps(change["after"], sort_keys=True) == json.dumps(new, sort_keys=True)
        # And the two sides differ as JSON.
        assert old is missing or new is missing or _canonical(old) != _canonical(new)
        # A leaf: two objects are walked into, never reported whole.
        assert not (isinstance(old, dict) and isinstance(new, dict))
