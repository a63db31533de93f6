"""What a stream sends of one entry: the native document, an OCSF event or a CloudEvent.

``render(entry, fmt, org=...)`` takes the API's entry document (what ``GET /activities/{id}``
answers) and gives the event a stream delivers. Each format carries ``event_id(entry)``, the id
a receiver dedupes on: native ``event_id``, OCSF ``metadata.uid``, CloudEvents ``id``.

- native       the document as the API answers it, plus ``event_id``
- ocsf         an OCSF 1.5.0 event of the class the entry is (``OCSF_CLASSES``): Account Change for
               a team member, Entity Management for the org's settings and integrations, API
               Activity for the rest (tests validate each against the schema)
- cloudevents  a CloudEvents 1.0 event in structured JSON mode, built by the ``cloudevents`` SDK,
               the native document as its data

>>> entry = sample_entry("org_1")
>>> render(entry, "native")["event_id"] == render(entry, "ocsf", org="org_1")["metadata"]["uid"] == event_id(entry)
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from activitylog import ids
from activitylog.entry import iso_time
from activitylog.errors import BadRequest

FORMATS = ("native", "ocsf", "cloudevents")

# What can change on an entry after it is first recorded (a job's progress and end, its retries):
# a new version of an entry differs in one of these, so its event id differs too.
VERSIONED_FIELDS = ("status", "event", "metadata", "error", "finished_at", "sequence", "retried")


def event_id(entry: dict) -> str:
    """The stable id receivers dedupe on: the same entry version always gives the same id.

    ``{entry id}.{16 hex}``: the hex is a digest of the fields a later version can change, so a job's
    IN_PROGRESS and its SUCCESS are two events, and the same version rendered again (a redelivery,
    a backfill) is the same one.

    >>> entry = {"id": "01JDQ7Z9K3M5N7P9R1T3V5X7Z9", "status": "IN_PROGRESS", "metadata": {}}
    >>> event_id(entry) == event_id(dict(entry))
    True
    >>> event_id(entry) == event_id({**entry, "status": "SUCCESS"})
    False
    """
    versioned = {name: entry.get(name) for name in VERSIONED_FIELDS}
    canonical = json.dumps(versioned, sort_keys=True, separators=(",", ":"), default=str)
    return f"{entry['id']}.{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def render(entry: dict, fmt: str, *, org: Optional[str] = None) -> dict:
    """One entry as a stream delivers it. `entry` is the API's entry document (what GET /activities/{id}
    answers: id, type, status, actor{...}, action, event, entity{...}, occurred_at, changes, metadata...).
    native = that document plus "event_id"; ocsf = the OCSF event of the entry's class; cloudevents = a
    CloudEvents 1.0 structured-mode JSON dict (the `cloudevents` SDK builds it).

    ``org``: the org the entry belongs to (the document does not say): the CloudEvent's ``source``
    (required there) and OCSF's ``metadata.tenant_uid``.
    """
    if fmt == "native":
        return native(entry)
    if fmt == "ocsf":
        return ocsf(entry, org)
    if fmt == "cloudevents":
        if not org:
            raise ValueError("render(entry, 'cloudevents', org=...): a CloudEvent's source names the org")
        return cloudevent(entry, org)
    raise BadRequest(f"format must be one of {', '.join(FORMATS)}", "format")


def native(entry: dict) -> dict:
    """The entry document as the API answers it, with its ``event_id``."""
    return {**entry, "event_id": event_id(entry)}


# --- CloudEvents 1.0 ---------------------------------------------------------------------------------------------

CLOUDEVENT_TYPE = "com.activitylog.entry.{type}"  # lowercase entry type: com.activitylog.entry.user_action


def cloudevent(entry: dict, org: str) -> dict:
    """A CloudEvents 1.0 structured-mode event (``application/cloudevents+json``) as a dict: the SDK
    builds and checks it, and writes it as the spec's JSON format says (time in RFC 3339)."""
    from cloudevents.core.formats.json import JSONFormat  # streams only: the read and write paths skip it
    from cloudevents.core.v1.event import CloudEvent

    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id(entry),
        "source": f"/orgs/{org}/activity",
        "type": CLOUDEVENT_TYPE.format(type=str(entry["type"]).lower()),
        "time": ids.occurred_at(entry["id"]),
        "datacontenttype": "application/json",
    }
    entity = entry.get("entity")
    if entity:
        attributes["subject"] = f"{entity['type']}/{entity['id']}"
    if entry.get("trace_id") and entry.get("span_id"):
        # CloudEvents' Distributed Tracing extension: the write's W3C trace (its flags are not kept: 00)
        attributes["traceparent"] = f"00-{entry['trace_id']}-{entry['span_id']}-00"
    return json.loads(JSONFormat().write(CloudEvent(attributes, native(entry))))


# --- OCSF ----------------------------------------------------------------------------------------------------

OCSF_VERSION = "1.5.0"  # a version CloudWatch's and Security Lake's OCSF tooling reads; tests validate against it
PRODUCT = {"name": "Activity Log", "vendor_name": "Activity Log"}


@dataclass(frozen=True)
class OcsfClass:
    uid: int
    name: str
    category_uid: int
    category_name: str
    activities: dict[str, int]  # the class's own activity captions → activity_id (only those we use)


API_ACTIVITY = OcsfClass(
    6003, "API Activity", 6, "Application Activity", {"Create": 1, "Read": 2, "Update": 3, "Delete": 4}
)
ACCOUNT_CHANGE = OcsfClass(
    3001,
    "Account Change",
    3,
    "Identity & Access Management",
    {
        "Create": 1,
        "Enable": 2,
        "Password Change": 3,
        "Password Reset": 4,
        "Disable": 5,
        "Delete": 6,
        "Lock": 9,
        "MFA Factor Enable": 10,
        "MFA Factor Disable": 11,
        "Unlock": 12,
    },
)
ENTITY_MANAGEMENT = OcsfClass(
    3004,
    "Entity Management",
    3,
    "Identity & Access Management",
    {"Create": 1, "Read": 2, "Update": 3, "Delete": 4, "Enable": 8, "Disable": 9, "Suspend": 12, "Resume": 13},
)

# The class of an entry, by its entity's type: a team member's account, the org's managed configuration
# (the schema's "user at a management console" on "a managed entity"); everything else (contacts, orders,
# payments, jobs, webhooks, support's reads) is an operation through the platform's API.
OCSF_CLASSES = {"team_member": ACCOUNT_CHANGE, "setting": ENTITY_MANAGEMENT, "integration": ENTITY_MANAGEMENT}

# Our actions, as the OCSF activity they are; a class that has no such activity says Other (99) with the action.
ACTIVITIES = {
    "created": "Create",
    "invited": "Create",
    "connected": "Create",
    "viewed": "Read",
    "exported": "Read",
    "updated": "Update",
    "deleted": "Delete",
    "removed": "Delete",
    "disconnected": "Delete",
    "enabled": "Enable",
    "disabled": "Disable",
    "paused": "Suspend",
    "resumed": "Resume",
    "password_changed": "Password Change",
    "password_reset": "Password Reset",
    "locked": "Lock",
    "unlocked": "Unlock",
    "mfa_enabled": "MFA Factor Enable",
    "mfa_disabled": "MFA Factor Disable",
}
OTHER = 99

# Our status as OCSF's status_id (Success, Failure, Other) and severity_id (Informational, Low, Medium).
STATUS_IDS = {
    "SUCCESS": (1, "Success"),
    "FAILED": (2, "Failure"),
    "WARNING": (OTHER, "Warning"),
    "IN_PROGRESS": (OTHER, "In Progress"),
}
SEVERITY_IDS = {
    "SUCCESS": (1, "Informational"),
    "IN_PROGRESS": (1, "Informational"),
    "WARNING": (2, "Low"),
    "FAILED": (3, "Medium"),
}
USER_TYPES = {"user": (1, "User"), "system": (3, "System"), "external": (OTHER, "External")}

# What the event's own attributes carry; the rest of the document goes under ``unmapped``.
MAPPED = ("occurred_at", "status", "actor", "event", "entity", "recorded_at", "finished_at", "correlation_id", "reason")


def ocsf_class(entry: dict) -> OcsfClass:
    """The OCSF class an entry is, by its entity's type (API Activity when it names none)."""
    return OCSF_CLASSES.get(str((entry.get("entity") or {}).get("type")), API_ACTIVITY)


def activity(entry: dict, cls: OcsfClass) -> tuple[int, str]:
    """``(activity_id, activity_name)``: the class's activity for our action, else Other with the action's name."""
    action = str(entry.get("action") or "")
    caption = ACTIVITIES.get(action) or ("Update" if action.endswith("_changed") else None)
    if caption in cls.activities:
        return cls.activities[caption], caption
    return OTHER, action or "Other"


def ocsf(entry: dict, org: Optional[str] = None) -> dict:
    """The OCSF event of the entry's class (``OCSF_CLASSES``), with its activity, status and severity."""
    cls = ocsf_class(entry)
    activity_id, activity_name = activity(entry, cls)
    status_id, status = STATUS_IDS[entry["status"]]
    severity_id, severity = SEVERITY_IDS[entry["status"]]
    metadata: dict[str, Any] = {"version": OCSF_VERSION, "product": dict(PRODUCT), "uid": event_id(entry)}
    if org:
        metadata["tenant_uid"] = org
    if entry.get("correlation_id"):
        metadata["correlation_uid"] = entry["correlation_id"]
    if entry.get("recorded_at"):
        metadata["logged_time"] = _ms(entry["recorded_at"])
    event: dict[str, Any] = {
        "class_uid": cls.uid,
        "class_name": cls.name,
        "category_uid": cls.category_uid,
        "category_name": cls.category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": cls.uid * 100 + activity_id,
        "type_name": f"{cls.name}: {activity_name if activity_id != OTHER else 'Other'}",
        "time": _ms(ids.occurred_at(entry["id"])),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "message": entry.get("event"),
        "metadata": metadata,
        "actor": {"user": _user(entry.get("actor") or {})},
    }
    if (entry.get("reason") or {}).get("recorded"):
        event["status_detail"] = entry["reason"]["message"]
    if entry.get("finished_at"):
        event["end_time"] = _ms(entry["finished_at"])
    entity: dict = entry.get("entity") or {}  # Account Change and Entity Management are chosen by it: there
    if cls is ACCOUNT_CHANGE:
        event["user"] = {"uid": entity["id"], "name": entity.get("label") or entity["id"]}
    elif cls is ENTITY_MANAGEMENT:
        event["entity"] = {"uid": entity["id"], "name": entity.get("label") or entity["id"], "type": entity["type"]}
    else:
        event["api"] = {"operation": entry.get("action") or "Other", "service": {"name": _service(entry)}}
        event["src_endpoint"] = _source(entry)
        if entity:
            event["resources"] = [
                {"uid": entity["id"], "name": entity.get("label") or entity["id"], "type": entity["type"]}
            ]
    unmapped = {name: value for name, value in entry.items() if name not in MAPPED and value not in (None, {}, [])}
    if unmapped:
        event["unmapped"] = unmapped
    return event


def _user(actor: dict) -> dict:
    type_id, type_name = USER_TYPES.get(actor.get("kind", ""), (OTHER, str(actor.get("kind") or "Other")))
    return {
        "uid": actor.get("id") or "unknown",
        "name": actor.get("name") or actor.get("id") or "unknown",
        "type_id": type_id,
        "type": type_name,
    }


def _service(entry: dict) -> str:
    """The API the operation went through: a webhook's provider, a job's type, else the entity's area."""
    if entry.get("type") == "WEBHOOK":
        return (entry.get("source") or {}).get("provider") or (entry.get("actor") or {}).get("name") or "webhooks"
    if entry.get("type") == "BACKGROUND_JOB":
        return (entry.get("metadata") or {}).get("job") or "jobs"
    return (entry.get("entity") or {}).get("type") or "activity"


def _source(entry: dict) -> dict:
    """Where the call came from: entries record no address, so the endpoint is named by who reported it."""
    provider = (entry.get("source") or {}).get("provider")
    if provider:
        return {"name": provider}
    return {"svc_name": entry.get("recorded_by") or "activitylog"}


def _ms(moment: datetime | str) -> int:
    """OCSF's timestamp_t: epoch milliseconds."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


# --- the test call -------------------------------------------------------------------------------------------


def sample_entry(org: str, now: datetime | None = None) -> dict:
    """A harmless entry document for `POST /settings/streams/{id}/test`: a SYSTEM_EVENT that says it is
    a test, with a fresh id (a receiver that dedupes still shows each test)."""
    now = now or datetime.now(timezone.utc)
    entry_id = ids.new_id(now)
    return {
        "id": entry_id,
        "occurred_at": iso_time(ids.occurred_at(entry_id)),
        "type": "SYSTEM_EVENT",
        "status": "SUCCESS",
        "actor": {"kind": "system", "id": "activitylog", "name": "Activity log"},
        "action": "tested",
        "event": "Stream test: this event checks the stream's destination and can be ignored",
        "entity": {"type": "setting", "id": "streams", "label": "Streams"},
        "recorded_at": iso_time(now),
        "finished_at": None,
        "sequence": None,
        "changes": {},
        "metadata": {"org": org, "test": True},
        "error": None,
        "correlation_id": None,
        "trace_id": None,
        "span_id": None,
        "retry_of": None,
        "source": None,
        "recorded_by": "activitylog",
        "expires_at": None,
        "retry": None,
        "reason": None,
    }
