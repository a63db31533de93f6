"""A stream's formats, alone: the native document, OCSF events and CloudEvents of real entry documents."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from activitylog import ids
from activitylog.api.views import detail_view
from activitylog.entry import Entry, EntryType, Status
from activitylog.errors import BadRequest
from activitylog.streams.formats import event_id, render, sample_entry

WHEN = datetime(2026, 11, 27, 9, 30, 5, 123000, tzinfo=timezone.utc)
ENTRY_ID = ids.new_id(WHEN)


def document(**overrides) -> dict:
    """An entry document exactly as GET /activities/{id} answers it."""
    values = dict(id=ENTRY_ID, type=EntryType.USER_ACTION, status=Status.SUCCESS,
                  actor={"kind": "user", "id": "u_17", "name": "Riley Park"}, action="updated",
                  event="Contact updated", entity={"type": "contact", "id": "c_1", "label": "Alex"},
                  recorded_at=WHEN, changes={"email": {"before": "a@x.test", "after": "b@x.test"}})
    values.update(overrides)
    return detail_view(Entry(**values))


def test_native_is_the_entry_document_with_its_event_id():
    entry = document()
    event = render(entry, "native")
    assert event == {**entry, "event_id": event_id(entry)}
    assert "event_id" not in entry  # the caller's document is left alone


def test_an_unknown_format_is_a_bad_request_naming_the_field():
    with pytest.raises(BadRequest) as refused:
        render(document(), "xml")
    assert refused.value.field == "format"


def test_the_same_entry_version_always_gives_the_same_event_id():
    assert event_id(document()) == event_id(document())
    assert event_id(document()).startswith(ENTRY_ID + ".")


def test_each_new_version_of_an_entry_gets_a_new_event_id():
    """A receiver deduping on the id must still see a job's end after its start, and a retry noted on it."""
    job = dict(type=EntryType.BACKGROUND_JOB, actor={"kind": "system", "id": "sync", "name": "sync"},
               action="ran", event="Stock sync", entity={"type": "job", "id": "run_1", "label": ""},
               metadata={"job": "SYNC_SQUARE_STOCK"})
    started = document(**job, status=Status.IN_PROGRESS, sequence=1)
    progressed = document(**{**job, "metadata": {"job": "SYNC_SQUARE_STOCK", "done": 50}}, status=Status.IN_PROGRESS,
                          sequence=2)
    failed = document(**job, status=Status.FAILED, sequence=3, finished_at=WHEN, error={"message": "timeout"})
    retried = document(**job, status=Status.FAILED, sequence=3, finished_at=WHEN, error={"message": "timeout"},
                       retried={"run_id": ENTRY_ID, "status": "SUCCESS", "finished_at": "2026-11-27T09:31:00.000Z"})
    assert len({event_id(version) for version in (started, progressed, failed, retried)}) == 4


def test_the_sample_entry_is_an_entry_document():
    sample = sample_entry("org_1")
    assert ids.is_entry_id(sample["id"]) and sample["type"] == "SYSTEM_EVENT"
    assert set(sample) == set(document())
    assert render(sample, "native")["event_id"] == event_id(sample)
