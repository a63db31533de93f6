"""Archive lines and keys, alone: canonical bytes, the columns Athena reads, the key layout."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from activitylog import views
from activitylog import ids
from activitylog.archive import layout
from activitylog.archive.lines import COLUMNS, INSERT, Line, detail_view, version_line
from activitylog.archive.store import pack_lines, unpack_lines
from activitylog.entry import Entry, EntryType, Status

WHEN = datetime(2026, 11, 27, 9, 30, 5, 123000, tzinfo=timezone.utc)


def entry(**overrides) -> Entry:
    values = dict(id=ids.new_id(WHEN), type=EntryType.WEBHOOK, status=Status.SUCCESS,
                  actor={"kind": "external", "id": "stripe", "name": "Stripe"}, action="received",
                  event="payment_intent.succeeded", entity={"type": "payment", "id": "pi_1", "label": ""},
                  recorded_at=WHEN, expires_at=1800000000, metadata={"amount": 4200, "zeta": [1, 2]}, recorded_by="svc")
    values.update(overrides)
    return Entry(**values)


def test_a_line_is_canonical_json_of_exactly_the_columns():
    line = version_line("org_a", entry(), "000000000000000000042", INSERT, WHEN)
    document = json.loads(line.text)
    assert list(document) == sorted(COLUMNS)  # sorted keys
    assert line.text == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert document["metadata"] == '{"amount":4200,"zeta":[1,2]}'  # free-form fields as JSON text: one column type
    assert document["occurred_at"] == "2026-11-27T09:30:05.123Z" and document["changed_at"] == "2026-11-27T09:30:05.123Z"


def test_the_same_record_makes_the_same_bytes_and_objects():
    first = [version_line("org_a", entry(id=ids.new_id(WHEN)), f"{n:021d}", INSERT, WHEN) for n in range(3)]
    again = [Line.parse(line.text) for line in first]
    assert [line.sha256 for line in again] == [line.sha256 for line in first]
    assert pack_lines(again) == pack_lines(first)  # gzip without a time in its header
    assert [line.text for line in unpack_lines(pack_lines(first))] == [line.text for line in first]


def test_a_line_holding_unicode_line_breaks_reads_back_as_one_line():
    # JSON strings may hold U+2028, U+0085 or a form feed raw: only "\n" ends a line.
    tricky = version_line("org_a", entry(event="one\u2028two\x85three\x0cfour"), "1", INSERT, WHEN)
    (back,) = unpack_lines(pack_lines([tricky]))
    assert back.text == tricky.text and back.sha256 == tricky.sha256


def test_a_line_reads_back_as_the_detail_panel_reads_an_entry():
    original = entry(changes={"/email": {"before": "a", "after": "b"}}, error=None)
    view = detail_view(version_line("org_a", original, "1", INSERT, WHEN).document)
    expected = views.detail_view(original)
    expected.pop("recorded_at"), view.pop("recorded_at")
    assert view == {key: expected[key] for key in view}


def test_keys_put_every_version_of_an_entry_under_its_hour_and_manifests_in_time_order():
    entry_id = ids.new_id(WHEN)
    assert layout.data_key("org_a", entry_id, "0042") == "archive/org=org_a/date=2026-11-27/09-0042.jsonl.gz"
    assert layout.hour_prefix("a/b", entry_id).startswith("archive/org=a%2Fb/date=")  # an org with '/' stays one path segment
    first = layout.manifest_key(WHEN, "0042")
    later = layout.manifest_key(WHEN.replace(microsecond=124000), "0001")
    assert first < later and layout.manifest_time(first) == WHEN
    assert layout.manifests_after(WHEN) > first and layout.manifests_after(WHEN) < later
