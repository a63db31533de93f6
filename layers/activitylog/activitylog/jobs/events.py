"""The events on the platform's EventBridge bus: what the client publishes, and what asks a job to run.

Activity events (source ``activitylog.client``) each carry one entry's whole state, so
whichever arrives first can create the entry and the rest update it, in any order:

=================  ===========================================================================
detail-type        detail
=================  ===========================================================================
ActivityRecorded   ``{org_id, entry_id, entry, producer}``: a user action, system event, webhook
JobStarted         ``{org_id, entry_id, entry, sequence, producer}``: ``entry`` is the run as it
JobProgressed      is now (type BACKGROUND_JOB, status, ``metadata.job``/``params``/progress,
JobFinished        ``error`` with its stack trace); ``sequence`` only grows within a run
=================  ===========================================================================

``entry`` is a ``POST /activities`` body; ``entry_id`` the id its producer minted (a
ULID of when it began), so a redelivered event can never make a second entry. The
event's ``time`` is when it was reported (a job's stall deadline counts from it).

Run requests (source ``activitylog.jobs``) ask a job handler to run a job:

=================  ===========================================================================
RetryRequested     ``{org_id, job, params, entity, correlation_id, retry_of, run_id, requested_by,
                   record}``
JobRequested       the same without ``retry_of``: a user's "run now", a platform trigger
=================  ===========================================================================

``run_id`` is the entry id the new run will have, decided by whoever asked, so the asker
can point at the run before it has started. A retry's ``record`` (``{entry_id, entry,
producer}``) is the caller's USER_ACTION "Retried …": it rides in the run request, and
ActivityEventsRule sends RetryRequested to the activity events queue too, so the bus accepting the
run is the bus accepting its audit entry (two events could part: the run asked for, its
"Retried" entry left in a buffer that ends with the function's environment).

>>> event = activity_event("org_1", "01JDQ7Z9K3M5N7P9R1T3V5X7Z9", {"status": "IN_PROGRESS"}, sequence=3,
...                        detail_type=JOB_PROGRESSED)
>>> event["Source"], event["DetailType"], json.loads(event["Detail"])["sequence"]
('activitylog.client', 'JobProgressed', 3)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

ACTIVITY_SOURCE = "activitylog.client"
RUN_SOURCE = "activitylog.jobs"
ACTIVITY_RECORDED = "ActivityRecorded"
JOB_STARTED, JOB_PROGRESSED, JOB_FINISHED = "JobStarted", "JobProgressed", "JobFinished"
ACTIVITY_DETAIL_TYPES = (ACTIVITY_RECORDED, JOB_STARTED, JOB_PROGRESSED, JOB_FINISHED)
RETRY_REQUESTED, JOB_REQUESTED = "RetryRequested", "JobRequested"
RECORDING_RUN_REQUESTS = (RETRY_REQUESTED,)  # run requests that carry an entry (``record``) for the ingest
BUS_VARIABLE = "ACTIVITY_BUS_NAME"  # the platform bus, in every publisher's environment
MAX_EVENT_BYTES = 256 * 1024  # EventBridge's limit for one PutEvents request: its entries' sizes total less than this


def activity_event(
    org: str,
    entry_id: str,
    entry: dict,
    *,
    detail_type: str = ACTIVITY_RECORDED,
    sequence: Optional[int] = None,
    producer: Optional[str] = None,
    at: Optional[datetime] = None,
) -> dict:
    """One PutEvents entry (without its bus) recording ``entry`` under ``entry_id``."""
    detail: dict[str, Any] = {"org_id": org, "entry_id": entry_id, "entry": entry}
    if sequence is not None:
        detail["sequence"] = sequence
    if producer:
        detail["producer"] = producer
    return {
        "Source": ACTIVITY_SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":")),
        "Time": at or datetime.now(timezone.utc),
    }


@dataclass
class ActivityEvent:
    """An activity event as it reaches its consumer (an EventBridge event in an SQS body)."""

    org: str
    entry_id: str
    entry: dict
    sequence: Optional[int]
    reported_at: Optional[datetime]
    producer: str

    @classmethod
    def parse(cls, event: dict) -> "ActivityEvent":
        """Raises ``ValueError`` naming what is missing: such a message can never be recorded."""
        source, kind = event.get("source"), event.get("detail-type")
        if not (
            (source == ACTIVITY_SOURCE and kind in ACTIVITY_DETAIL_TYPES)
            or (source == RUN_SOURCE and kind in RECORDING_RUN_REQUESTS)
        ):
            raise ValueError(
                f"not an activity event: source {event.get('source')!r}, detail-type {event.get('detail-type')!r}"
            )
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise ValueError("detail: must be an object")
        if source == RUN_SOURCE:  # a retry's own entry, carried in its run request, in the run's org
            if not isinstance(detail.get("record"), dict):
                raise ValueError("detail.record: must be an object")
            detail = {**detail["record"], "org_id": detail.get("org_id")}
        for name in ("org_id", "entry_id"):
            if not isinstance(detail.get(name), str):
                raise ValueError(f"detail.{name}: must be a string")
        if not isinstance(detail.get("entry"), dict):
            raise ValueError("detail.entry: must be an object")
        sequence = detail.get("sequence")
        if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int)):
            raise ValueError("detail.sequence: must be an integer")
        reported_at = None
        if event.get("time"):
            reported_at = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
        return cls(
            detail["org_id"],
            detail["entry_id"],
            detail["entry"],
            sequence,
            reported_at,
            str(detail.get("producer") or event.get("source")),
        )


def is_activity_event(document: Any) -> bool:
    """Whether an SQS body is an EventBridge event to record (what the activity events queue carries)."""
    if not isinstance(document, dict) or "detail-type" not in document:
        return False
    return document.get("source") == ACTIVITY_SOURCE or (
        document.get("source") == RUN_SOURCE and document["detail-type"] in RECORDING_RUN_REQUESTS
    )


@dataclass
class RunRequest:
    """Ask a job handler to run ``job`` (RetryRequested when ``retry_of`` is set, else JobRequested)."""

    org_id: str
    job: str
    run_id: str
    params: dict = field(default_factory=dict)
    entity: Optional[dict] = None
    correlation_id: Optional[str] = None
    retry_of: Optional[str] = None
    requested_by: Optional[dict] = None  # the actor who asked: a team member for a retry
    record: Optional[dict] = None  # a retry's "Retried …" entry: {entry_id, entry, producer} (the ingest records it)
    traceparent: Optional[str] = None  # W3C: the trace the run joins (its handler's ActivityClient(traceparent=…))

    @property
    def detail_type(self) -> str:
        return RETRY_REQUESTED if self.retry_of else JOB_REQUESTED

    def event(self) -> dict:
        """The PutEvents entry (without its bus)."""
        return {
            "Source": RUN_SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail(), separators=(",", ":")),
        }

    def detail(self) -> dict:
        """The event's detail: an untraced run's has no ``traceparent`` key (its detail is as it always was)."""
        detail = asdict(self)
        if self.traceparent is None:
            del detail["traceparent"]
        return detail

    @classmethod
    def from_event(cls, event: dict) -> "RunRequest":
        detail = event.get("detail") or {}
        known = {name: detail[name] for name in cls.__dataclass_fields__ if name in detail}
        return cls(**known)


def entry_size(entry: dict) -> int:
    """A PutEvents entry's size as EventBridge counts it ("Calculating PutEvents event entry size"):
    ``Time`` 14 bytes, ``Source``, ``DetailType``, ``Detail`` and each of ``Resources`` their UTF-8
    bytes. A request's entries must total less than ``MAX_EVENT_BYTES``, or it is refused whole.

    >>> entry_size({"Source": "s", "DetailType": "d", "Detail": "{}", "Time": datetime.now(timezone.utc)})
    18
    """
    size = 14 if entry.get("Time") is not None else 0
    size += sum(len((entry.get(name) or "").encode()) for name in ("Source", "DetailType", "Detail"))
    return size + sum(len(resource.encode()) for resource in entry.get("Resources") or [])


def with_bus(entry: dict, bus: str) -> dict:
    return {**entry, "EventBusName": bus}
