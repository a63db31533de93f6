"""What a stream sends of one entry: the native document, an OCSF event or a CloudEvent.

``render(entry, fmt)`` takes the API's entry document (what ``GET /activities/{id}`` answers)
and gives the event a stream delivers; every format carries ``event_id(entry)``, the id a
receiver dedupes on.

>>> entry = sample_entry("org_1")
>>> render(entry, "native")["event_id"] == event_id(entry)
True
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Callable

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


def render(entry: dict, fmt: str) -> dict:
    """One entry as a stream delivers it. `entry` is the API's entry document (what GET /activities/{id}
    answers: id, type, status, actor{...}, action, event, entity{...}, created_at, before/after/changes/metadata...).
    native = that document plus "event_id"; ocsf = the OCSF event of the entry's class; cloudevents = a
    CloudEvents 1.0 structured-mode JSON dict (the `cloudevents` SDK builds it)."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}", "format")
    return renderer(entry)


def native(entry: dict) -> dict:
    """The entry document as the API answers it, with its ``event_id``."""
    return {**entry, "event_id": event_id(entry)}


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
        "retry_of": None,
        "source": None,
        "recorded_by": "activitylog",
        "expires_at": None,
        "retry": None,
        "reason": None,
    }


def _not_yet(fmt: str) -> Callable[[dict], dict]:
    def refuse(entry: dict) -> dict:
        raise NotImplementedError(f"the {fmt} format is not built yet")

    return refuse


_RENDERERS: dict[str, Callable[[dict], Any]] = {
    "native": native,
    "ocsf": _not_yet("ocsf"),
    "cloudevents": _not_yet("cloudevents"),
}
