from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from activitylog.inputs import EntryUpdate, NewEntry, validation_message
from activitylog.entry import Entry, EntryType, Status
from activitylog.errors import BadRequest, Conflict
from activitylog.rules import apply_update, merge_metadata

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


def test_metadata_merges_deeply_a_later_value_wins_and_null_removes_a_key():
    merged = merge_metadata({"processed": 500, "remaining": 40, "job": {"batch": 1, "eta": 9}, "note": "a"},
                            {"remaining": 0, "job": {"total": 9, "eta": None}, "note": "b"})
    assert merged == {"processed": 500, "remaining": 0, "job": {"batch": 1, "total": 9}, "note": "b"}


@pytest.mark.parametrize("old, new", [(5, "five"), ("a", 1), (True, 1), (1, False), ({"a": 1}, 1), ([1], {"a": 1})])
def test_metadata_values_keep_their_json_type(old, new):
    with pytest.raises(BadRequest) as caught:
        merge_metadata({"job": {"counter": old}}, {"job": {"counter": new}})
    assert caught.value.field == "metadata.job.counter"


def running_job() -> Entry:
    return Entry(id="01JDQ0000000000000000000AA", type=EntryType.BACKGROUND_JOB, status=Status.IN_PROGRESS,
                 actor={"kind": "system", "id": "system", "name": "system"}, action="synced", event="SYNC", entity=None,
                 metadata={"processed": 0})


def test_updates_carrying_a_sequence_apply_in_the_writers_order_whatever_order_they_arrive_in():
    job = running_job()
    now = datetime.now(timezone.utc)
    # Given progress reports 2 then 1 arriving in that order
    assert apply_update(job, EntryUpdate(metadata={"processed": 200, "remaining": 800}, sequence=2), now)
    # Then the older report changes nothing
    assert not apply_update(job, EntryUpdate(metadata={"processed": 100, "remaining": 900}, event="late", sequence=1), now)
    assert job.metadata == {"processed": 200, "remaining": 800} and job.event == "SYNC"
    # And a later one may lower a value
    assert apply_update(job, EntryUpdate(metadata={"remaining": 0}, sequence=3), now)
    assert job.metadata["remaining"] == 0 and job.sequence == 3


def test_a_stale_report_still_delivers_a_final_status():
    job = running_job()
    now = datetime.now(timezone.utc)
    apply_update(job, EntryUpdate(metadata={"processed": 5}, sequence=9), now)
    assert apply_update(job, EntryUpdate(status="FAILED", error={"message": "boom"}, metadata={"processed": 1}, sequence=8), now)
    assert job.status is Status.FAILED and job.error == {"message": "boom"} and job.metadata == {"processed": 5}
    assert job.finished_at == now


def test_a_retried_final_report_changes_nothing_and_anything_else_on_a_finished_entry_is_a_conflict():
    job = running_job()
    now = datetime.now(timezone.utc)
    final = EntryUpdate(status="FAILED", error={"message": "card declined", "type": "CardError"}, metadata={"processed": 3})
    assert apply_update(job, final, now)
    # The same report again (a worker retrying after a timeout): no change, no error
    assert not apply_update(job, final, now + timedelta(seconds=5))
    assert job.finished_at == now
    for other in (EntryUpdate(status="SUCCESS"), EntryUpdate(error={"message": "other"}), EntryUpdate(metadata={"processed": 4})):
        with pytest.raises(Conflict):
            apply_update(job, other, now)


def _delivery(status: str, code) -> dict:
    response = None if code is None else {"status_code": code, "headers": {}, "body": "answered"}
    return {"type": "WEBHOOK", "status": status, "action": "sent", "event": "Webhook sent · order.created",
            "actor": {"kind": "system", "id": "system", "name": "system"},
            "webhook": {"direction": "outgoing", "url": "https://hooks.example.com/orders", "method": "POST",
                        "request_headers": {}, "request_body": {"ok": True}, "response": response, "duration_ms": 5}}


@pytest.mark.parametrize("status, code", [("WARNING", 200), ("SUCCESS", 503), ("SUCCESS", None), ("IN_PROGRESS", 410)])
def test_an_outgoing_webhooks_status_is_decided_by_one_rule_naming_status(status, code):
    """The rule (a 2xx is SUCCESS, anything else WARNING or FAILED) lives in the entry rules alone: the
    input model takes the document, and ``new_entry`` refuses it with a 400 naming ``status``."""
    from activitylog.rules import new_entry

    new = NewEntry.model_validate(_delivery(status, code))
    with pytest.raises(BadRequest) as refused:
        new_entry(new, "svc_webhooks", datetime.now(timezone.utc), retention_days=730)
    assert refused.value.field == "status"
