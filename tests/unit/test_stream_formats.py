"""A stream's formats, alone: the native document, OCSF events and CloudEvents of real entry documents."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_dict, from_json
from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from activitylog import ids
from activitylog.views import detail_view
from activitylog.entry import EntityType, Entry, EntryType, Status
from activitylog.errors import BadRequest
from activitylog.streams.formats import (
    ACCOUNT_CHANGE,
    API_ACTIVITY,
    ENTITY_MANAGEMENT,
    FORMATS,
    OCSF_CLASSES,
    OCSF_VERSION,
    SEVERITY_IDS,
    STATUS_IDS,
    event_id,
    render,
    sample_entry,
)

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


# --- OCSF: each entry as its class's event, validated against the OCSF schema ---------------------------------

SUPPORT = {"kind": "user", "id": "support_jo", "name": "Jo (support)"}
JOB = dict(type=EntryType.BACKGROUND_JOB, actor={"kind": "system", "id": "system", "name": "system"}, action="ran",
           event="SYNC_SQUARE_STOCK", entity={"type": "job", "id": "run_1", "label": "Stock sync"},
           metadata={"job": "SYNC_SQUARE_STOCK"}, recorded_by="jobs")

# (what the entry is, its document, the class and activity it must be)
CASES = {
    "contact updated": (dict(), 6003, 3),
    "contact status changed": (dict(action="status_changed"), 6003, 3),
    "team member invited": (dict(action="invited", entity={"type": "team_member", "id": "u_9", "label": "Sam"}), 3001, 1),
    "team member removed": (dict(action="removed", entity={"type": "team_member", "id": "u_9", "label": "Sam"}), 3001, 6),
    "team member's role changed": (dict(action="role_changed", entity={"type": "team_member", "id": "u_9", "label": "Sam"},
                                        changes={"role": {"before": "staff", "after": "manager"}}), 3001, 99),
    "password changed": (dict(action="password_changed", entity={"type": "team_member", "id": "u_17", "label": ""}), 3001, 3),
    "MFA enabled": (dict(action="mfa_enabled", entity={"type": "team_member", "id": "u_17", "label": "Riley"}), 3001, 10),
    "setting changed": (dict(entity={"type": "setting", "id": "timezone", "label": "Time zone"}), 3004, 3),
    "integration disconnected": (dict(action="disconnected", entity={"type": "integration", "id": "int_mc", "label": "Mailchimp"}),
                                 3004, 4),
    "stream paused": (dict(type=EntryType.SYSTEM_EVENT, status=Status.WARNING, actor={"kind": "system", "id": "streams", "name": "streams"},
                           action="paused", event="Stream paused after 24 h of failed deliveries",
                           entity={"type": "setting", "id": "stream_1", "label": "SIEM"}, metadata={"warning": "HTTP 500"}), 3004, 12),
    "support viewed an entry": (dict(type=EntryType.SYSTEM_EVENT, actor=SUPPORT, action="viewed",
                                     event="Support viewed entry · reason: ticket 4312",
                                     entity={"type": "entry", "id": ENTRY_ID, "label": ""}), 6003, 2),
    "job started": (dict(JOB, status=Status.IN_PROGRESS, sequence=1), 6003, 99),
    "job failed": (dict(JOB, status=Status.FAILED, finished_at=WHEN, error={"message": "Square answered 503", "stack": "..."}),
                   6003, 99),
    "webhook received": (dict(type=EntryType.WEBHOOK, status=Status.WARNING, actor={"kind": "external", "id": "stripe", "name": "Stripe"},
                              action="received", event="payment_intent.payment_failed",
                              entity={"type": "payment", "id": "pi_1", "label": ""},
                              source={"provider": "stripe", "event_id": "evt_1"}, recorded_by="webhooks"), 6003, 99),
    "entry without an entity": (dict(type=EntryType.SYSTEM_EVENT, entity=None, action="migrated", event="Schema migrated"), 6003, 99),
}


@functools.cache
def ocsf_schema(version: str, class_uid: int) -> Draft202012Validator:
    """The class's JSON Schema as the OCSF schema of ``version`` defines it (every object it uses embedded)."""
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))
    return Draft202012Validator(schema.get_class_schema(schema.lookup_class_name_from_uid(class_uid), profiles=[]))


def schema_problems(event: dict, version: str = OCSF_VERSION) -> list[str]:
    validator = ocsf_schema(version, event["class_uid"])
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(event)]


@pytest.mark.parametrize("case", CASES)
def test_each_entry_is_a_valid_ocsf_event_of_its_class(case):
    overrides, class_uid, activity_id = CASES[case]
    entry = document(**overrides)
    event = render(entry, "ocsf", org="org_1")
    assert schema_problems(event) == []
    assert (event["class_uid"], event["activity_id"]) == (class_uid, activity_id)
    assert event["type_uid"] == class_uid * 100 + activity_id and event["category_uid"] == class_uid // 1000
    assert event["time"] == int(ids.occurred_at(ENTRY_ID).timestamp() * 1000)
    assert event["metadata"]["uid"] == event_id(entry) and event["metadata"]["version"] == OCSF_VERSION
    assert event["metadata"]["tenant_uid"] == "org_1"
    assert event["metadata"]["product"] == {"name": "Activity Log", "vendor_name": "Activity Log"}
    assert event["actor"]["user"]["uid"] == entry["actor"]["id"]
    assert event["unmapped"]["id"] == ENTRY_ID  # the entry itself stays findable
    if activity_id == 99:
        assert event["activity_name"] == entry["action"]


@pytest.mark.parametrize("version", ["1.8.0"])
def test_the_events_are_also_valid_under_the_newest_packaged_ocsf_schema(version):
    """A receiver on a later 1.x schema takes them too (1.x only adds)."""
    for overrides, _, _ in CASES.values():
        assert schema_problems(render(document(**overrides), "ocsf", org="org_1"), version) == []


def test_the_schema_check_refuses_what_the_class_does_not_define():
    """The validation has teeth: a required attribute missing, a wrong type or an unknown attribute is refused."""
    event = render(document(), "ocsf", org="org_1")
    assert schema_problems({k: v for k, v in event.items() if k != "api"})
    assert schema_problems({**event, "time": "yesterday"})
    assert schema_problems({**event, "entry_id": ENTRY_ID})


def test_ocsf_status_severity_and_where_each_part_of_the_entry_goes():
    failed = document(**dict(JOB, status=Status.FAILED, finished_at=WHEN, error={"message": "Square answered 503"}))
    event = render(failed, "ocsf")
    assert (event["status_id"], event["status"], event["severity_id"]) == (2, "Failure", 3)
    assert event["status_detail"] == "Square answered 503"
    assert event["end_time"] == int(WHEN.timestamp() * 1000)
    assert event["api"] == {"operation": "ran", "service": {"name": "SYNC_SQUARE_STOCK"}}
    assert event["resources"] == [{"uid": "run_1", "name": "Stock sync", "type": "job"}]
    assert event["unmapped"]["error"] == {"message": "Square answered 503"}
    assert "tenant_uid" not in event["metadata"]
    ok = render(document(), "ocsf")
    assert (ok["status_id"], ok["severity_id"]) == (1, 1) and ok["message"] == "Contact updated"
    assert ok["unmapped"]["changes"] == {"email": {"before": "a@x.test", "after": "b@x.test"}}
    member = render(document(**CASES["team member invited"][0]), "ocsf")
    assert member["user"] == {"uid": "u_9", "name": "Sam"}
    assert member["actor"]["user"] == {"uid": "u_17", "name": "Riley Park", "type_id": 1, "type": "User"}
    hook = render(document(**CASES["webhook received"][0]), "ocsf")
    assert hook["src_endpoint"] == {"name": "stripe"} and hook["api"]["service"] == {"name": "stripe"}
    assert (hook["status_id"], hook["status"], hook["severity_id"]) == (99, "Warning", 2)


def test_the_mapping_tables_use_the_schemas_own_names_and_numbers():
    """Class, category, activity, status and severity captions as the OCSF schema gives them (a typo would
    still validate: the names are free strings)."""
    schema = get_ocsf_schema(version=OCSF_VERSION)
    for cls in (API_ACTIVITY, ACCOUNT_CHANGE, ENTITY_MANAGEMENT):
        defined = next(c for c in schema["classes"].values() if c["uid"] == cls.uid)
        attributes = defined["attributes"]
        assert defined["caption"] == cls.name
        assert attributes["category_uid"]["enum"][str(cls.category_uid)]["caption"] == cls.category_name
        for caption, uid in cls.activities.items():
            assert attributes["activity_id"]["enum"][str(uid)]["caption"] == caption
            assert attributes["type_uid"]["enum"][str(cls.uid * 100 + uid)]["caption"] == f"{cls.name}: {caption}"
        for uid, caption in STATUS_IDS.values():
            assert uid == 99 or attributes["status_id"]["enum"][str(uid)]["caption"] == caption
        for uid, caption in SEVERITY_IDS.values():
            assert attributes["severity_id"]["enum"][str(uid)]["caption"] == caption
    assert set(OCSF_CLASSES) <= {member.value for member in EntityType}


# --- CloudEvents 1.0 --------------------------------------------------------------------------------------------


def test_a_cloudevent_has_the_required_attributes_and_the_native_entry_as_data():
    entry = document()
    event = render(entry, "cloudevents", org="org_1")
    assert event["specversion"] == "1.0"
    assert event["id"] == event_id(entry)
    assert event["source"] == "/orgs/org_1/activity"
    assert event["type"] == "com.activitylog.entry.user_action"
    assert event["subject"] == "contact/c_1"
    assert event["datacontenttype"] == "application/json"
    assert datetime.fromisoformat(event["time"].replace("Z", "+00:00")) == ids.occurred_at(ENTRY_ID)  # RFC 3339
    assert event["time"].endswith("Z")
    assert event["data"] == render(entry, "native")
    json.dumps(event)  # what a destination sends as is


def test_a_cloudevent_round_trips_through_the_sdks_own_readers():
    """Read back by the SDK's JSON format (and its v1 API's from_json/from_dict), it is the same event."""
    entry = document(**CASES["job failed"][0])
    event = render(entry, "cloudevents", org="org_1")
    text = json.dumps(event)
    parsed = JSONFormat().read(None, text)
    assert parsed.get_specversion() == "1.0" and parsed.get_id() == event_id(entry)
    assert parsed.get_source() == "/orgs/org_1/activity" and parsed.get_type() == "com.activitylog.entry.background_job"
    assert parsed.get_time() == ids.occurred_at(ENTRY_ID) and parsed.get_subject() == "job/run_1"
    assert parsed.get_data() == render(entry, "native")
    assert json.loads(JSONFormat().write(parsed)) == event
    for legacy in (from_json(text), from_dict(json.loads(text))):
        assert {name: legacy[name] for name in ("specversion", "id", "source", "type", "time")} == {
            name: event[name] for name in ("specversion", "id", "source", "type", "time")}
        assert legacy.data == render(entry, "native")


def test_a_cloudevent_needs_the_org_its_source_names():
    with pytest.raises(ValueError, match="org"):
        render(document(), "cloudevents")


def test_an_entry_without_an_entity_has_no_subject():
    event = render(document(**CASES["entry without an entity"][0]), "cloudevents", org="org_1")
    assert "subject" not in event and event["type"] == "com.activitylog.entry.system_event"


def test_a_traced_entry_carries_its_trace_as_the_cloudevents_tracing_extension():
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    event = render(document(trace_id=trace, span_id=span), "cloudevents", org="org_1")
    assert event["traceparent"] == f"00-{trace}-{span}-00"
    assert from_dict(event)["traceparent"] == event["traceparent"]  # the SDK reads it as an extension attribute
    assert "traceparent" not in render(document(), "cloudevents", org="org_1")


def test_the_sample_entry_renders_in_every_format():
    sample = sample_entry("org_1")
    for fmt in FORMATS:
        assert render(sample, fmt, org="org_1")
    assert schema_problems(render(sample, "ocsf", org="org_1")) == []


def test_the_readme_shows_what_render_sends():
    """README "Streams: formats": its OCSF event and its CloudEvent's attributes are this entry's, rendered."""
    readme = (Path(__file__).parents[2] / "README.md").read_text().split("## Streams: formats", 1)[1].split("\n## ", 1)[0]
    native, ocsf, cloudevent = (json.loads(block.split("\n```", 1)[0]) for block in readme.split("```json\n")[1:4])
    entry = document(id=ids.derived_id(WHEN, "readme"), event="Contact updated · Alex Chen",
                     entity={"type": "contact", "id": "c_1", "label": "Alex Chen"}, recorded_by="svc_dashboard",
                     changes={"/email": {"before": "alex@old.example", "after": "alex@new.example"}})
    assert native["event_id"] == event_id(entry) and native["id"] == entry["id"]
    assert ocsf == render(entry, "ocsf", org="org_demo")
    assert {**cloudevent, "data": None} == {**render(entry, "cloudevents", org="org_demo"), "data": None}
