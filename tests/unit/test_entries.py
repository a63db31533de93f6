from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from activitylog.inputs import EntryUpdate, NewEntry, validation_message
from activitylog.service import merge_metadata

VALID = {
    "type": "USER_ACTION",
    "status": "SUCCESS",
    "actor": {"kind": "user", "id": "u_17", "name": "Riley Park"},
    "action": "updated",
    "event": "Contact updated · Alex Chen",
    "entity": {"type": "contact", "id": "c_1", "label": "Alex Chen"},
}


def test_a_product_page_row_is_a_valid_entry():
    entry = NewEntry.model_validate(VALID)
    assert entry.actor.name == "Riley Park" and entry.entity.type.value == "contact"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"type": "JOB"}, "type"),
        ({"actor": {"kind": "robot", "id": "r", "name": "R"}}, "actor.kind"),
        ({"entity": {"type": "wine", "id": "w"}}, "entity.type"),
        ({"action": "Updated!"}, "action"),
        ({"occurred_at": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()}, "occurred_at"),
        ({"occurred_at": "2026-11-26T10:00:00"}, "occurred_at"),
        ({"org_id": "someone_else"}, "org_id"),
        ({"retry_of": "nope"}, "retry_of"),
    ],
)
def test_invalid_entries_name_the_field(change, field):
    with pytest.raises(ValidationError) as caught:
        NewEntry.model_validate({**VALID, **change})
    assert validation_message(caught.value)[0] == field


def test_changes_and_before_after_are_exclusive():
    with pytest.raises(ValidationError):
        NewEntry.model_validate({**VALID, "before": {"a": 1}, "changes": {"a": {"before": 1, "after": 2}}})


def test_ready_made_changes_are_keyed_by_json_pointer():
    # The same shape diff.changes stores: an absent side means the field was absent.
    changes = {"/email": {"before": "a@x", "after": "b@x"}, "/a.b/c~1d": {"after": None}, "/tags": {"before": ["vip"]}}
    assert NewEntry.model_validate({**VALID, "changes": changes}).changes == changes


@pytest.mark.parametrize(
    "changes",
    [{"email": {"before": 1, "after": 2}}, {"address.city": {"after": 2}}, {"/a~2": {"after": 1}}, {"": {"after": 1}},
     {"/a": {}}, {"/a": {"before": 1, "old": 0}}],
    ids=["bare name", "dotted path", "bad escape", "the root", "neither side", "unknown side"],
)
def test_ready_made_changes_with_a_bad_key_or_shape_are_refused(changes):
    with pytest.raises(ValidationError) as caught:
        NewEntry.model_validate({**VALID, "changes": changes})
    assert validation_message(caught.value)[0] == "changes"


def test_an_empty_update_is_refused():
    with pytest.raises(ValidationError):
        EntryUpdate.model_validate({})


def test_metadata_merges_deeply_and_counters_never_go_back():
    merged = merge_metadata({"processed": 500, "job": {"batch": 1}, "note": "a"}, {"processed": 300, "job": {"total": 9}, "note": "b"})
    assert merged == {"processed": 500, "job": {"batch": 1, "total": 9}, "note": "b"}
    assert merge_metadata({"processed": 500}, {"processed": 900}) == {"processed": 900}
