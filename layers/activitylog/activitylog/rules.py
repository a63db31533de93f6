"""The entry's rules: how a writer's document becomes an entry, and how a job's updates change it.

Pure functions on ``Entry`` (no I/O, no clock of their own), so the service decides when
"now" is and the rules are tested alone. ``NewEntry``/``EntryUpdate`` are only type
hints here: pydantic stays off the dashboard's read path.

>>> from activitylog.inputs import EntryUpdate, NewEntry
>>> now = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
>>> document = {"type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "action": "started", "event": "Import started",
...             "actor": {"kind": "system", "id": "svc_importer", "name": "Importer"},
...             "entity": {"type": "job", "id": "run_1", "label": "Contacts import"}}
>>> entry = new_entry(NewEntry.model_validate(document), recorded_by="svc_importer", now=now, retention_days=730)
>>> apply_update(entry, EntryUpdate.model_validate({"status": "SUCCESS"}), now), entry.status.value
(True, 'SUCCESS')
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional

from activitylog import ids
from activitylog.diff import changes as diff_changes
from activitylog.entry import Entry, EntryType, Status
from activitylog.errors import BadRequest, Conflict
from activitylog.jobtypes import timeout_of
from activitylog.masking import is_marker
from activitylog.retention_policy import table_expiry_days

if TYPE_CHECKING:
    from activitylog.inputs import EntryUpdate, NewEntry, OutgoingWebhook


def new_entry(
    new: NewEntry,
    recorded_by: str,
    now: datetime,
    retention_days: int,
    entry_id: Optional[str] = None,
    table_days: Optional[int] = None,
) -> Entry:
    """The entry a writer's document records: a fresh id from when it occurred, its changes, its expiry.

    An ``occurred_at`` older than the org's retention is a 400 (it would expire at once);
    an entry recorded already finished gets its ``finished_at``; an IN_PROGRESS job its
    stall deadline. ``entry_id`` is an id minted from ``occurred_at`` already, for an entry
    that must exist once: derived from a provider's event id (``ids.derived_id``), or a job
    run's, minted by its producer so all its reports address one entry.
    """
    occurred = new.occurred_at or now
    if occurred < now - timedelta(days=retention_days):
        raise BadRequest(f"occurred_at is older than the organization's {retention_days}-day retention", "occurred_at")
    if table_days is not None and occurred < now - timedelta(days=table_days):
        # Older entries are compacted into the warm tier, which never changes (``storage.OrgStorage.table_days``).
        raise BadRequest(
            f"occurred_at is more than {table_days} days ago: entries are recorded within "
            f"{table_days} days of when they occurred",
            "occurred_at",
        )
    changes = new.changes if new.changes is not None else diff_changes(new.before, new.after)
    metadata = new.metadata if new.webhook is None else {**new.metadata, "webhook": outgoing_webhook(new, new.webhook)}
    event, entity = new.event, new.entity.model_dump(mode="json") if new.entity else None
    error = new.error.model_dump(exclude_none=True) if new.error else None
    if (
        new.webhook is not None
    ):  # a delivery's labels and error quote what it sent (a URL, a card number): scrubbed like it
        from activitylog.redaction import scrub, scrub_text

        event, error = scrub_text(event), scrub(error)
        if entity:
            entity["label"] = scrub_text(entity.get("label") or "")
    entry = Entry(
        id=entry_id or ids.new_id(occurred),
        type=new.type,
        status=new.status,
        actor=new.actor.model_dump(mode="json"),
        action=new.action,
        event=event,
        entity=entity,
        recorded_at=now,
        finished_at=_finish_time(new.finished_at, occurred) if new.status.terminal else None,
        expires_at=int(occurred.timestamp()) + table_expiry_days(retention_days, table_days) * 86400,
        changes=changes,
        metadata=metadata,
        error=error,
        correlation_id=new.correlation_id,
        trace_id=new.trace_id,
        span_id=new.span_id if new.trace_id else None,
        retry_of=new.retry_of,
        source=new.source.model_dump() if new.source else None,
        recorded_by=recorded_by,
    )
    entry.stalls_at = stall_deadline(entry, now)
    return entry


def outgoing_webhook(new: NewEntry, webhook: OutgoingWebhook) -> dict:
    """What an entry keeps of ``new``'s delivery ``webhook`` (its ``metadata.webhook``), redacted.

    It is a WEBHOOK entry, and its status is what the answer says: SUCCESS for a 2xx; for
    anything else, or no answer, WARNING (it will be retried) or FAILED (given up).
    """
    from activitylog.redaction import redact_document, redact_headers, scrub_url

    if new.type is not EntryType.WEBHOOK:
        raise BadRequest(f"webhook: only a WEBHOOK entry records a webhook delivery, not {new.type.value}", "webhook")
    if "webhook" in new.metadata:
        raise BadRequest("metadata.webhook: send the delivery in webhook, not in metadata", "metadata.webhook")
    answered = webhook.response.status_code if webhook.response else None
    if answered is not None and 200 <= answered < 300:
        if new.status is not Status.SUCCESS:
            raise BadRequest(f"status: a {answered} answer is SUCCESS, not {new.status.value}", "status")
    elif new.status not in (Status.WARNING, Status.FAILED):
        answer = f"a {answered} answer" if answered else "no answer"
        raise BadRequest(
            f"status: {answer} is WARNING (it will be retried) or FAILED (given up), not {new.status.value}", "status"
        )
    kept = {
        "direction": "outgoing",
        "url": scrub_url(webhook.url),
        "method": webhook.method,
        "request": {"headers": redact_headers(webhook.request_headers), "body": redact_document(webhook.request_body)},
        "response": None,
        "status_code": answered,
        "duration_ms": webhook.duration_ms,
    }
    if webhook.response:
        kept["response"] = {
            "status_code": answered,
            "headers": redact_headers(webhook.response.headers),
            "body": redact_document(webhook.response.body),
        }
    if webhook.attempt is not None:
        kept["attempt"] = webhook.attempt
    return kept


def apply_update(entry: Entry, update: EntryUpdate, now: datetime) -> bool:
    """Apply a job's progress or completion to ``entry``; False when it changes nothing.

    - Status moves IN_PROGRESS → IN_PROGRESS | SUCCESS | WARNING | FAILED, never back.
    - A finished entry does not change: repeating what it holds already (a worker
      retrying its final report after a timeout) changes nothing; anything else is a 409.
    - With a ``sequence``, an update older than one applied already is a stale report:
      its event and metadata are dropped (a final status still lands). Without one,
      updates apply in the order they arrive.
    - Metadata merges key by key: a later value replaces an earlier one (a counter may go
      down, ``remaining`` shrinks), ``null`` removes a key, and a value never changes its
      JSON type (a counter does not become a string).
    """
    before = (entry.status, entry.event, entry.error, entry.metadata, entry.sequence)
    stale = update.sequence is not None and entry.sequence is not None and update.sequence < entry.sequence
    if update.status is not None and update.status != entry.status:
        if entry.status.terminal:
            raise Conflict(
                f"entry {entry.id} is {entry.status.value} already; a finished entry does not change", "status"
            )
        entry.status = update.status
    if update.error is not None:
        entry.error = update.error.model_dump(exclude_none=True)
    if not stale:
        if update.event is not None:
            entry.event = update.event
        if update.metadata is not None:
            entry.metadata = merge_metadata(entry.metadata, update.metadata)
        if update.sequence is not None:
            entry.sequence = update.sequence
    # A job's report under a trace gives an untraced entry that trace; the trace that began it stays.
    traced = bool(update.trace_id and not entry.trace_id and not before[0].terminal)
    if traced:
        entry.trace_id, entry.span_id = update.trace_id, update.span_id
    changed = traced or (entry.status, entry.event, entry.error, entry.metadata, entry.sequence) != before
    if changed and before[0].terminal:
        raise Conflict(f"entry {entry.id} is {before[0].value} already; a finished entry does not change", "status")
    if changed and entry.status.terminal and not before[0].terminal:
        entry.finished_at = _finish_time(update.finished_at or now, entry.occurred_at)
    if changed and (entry.status.terminal or not stale):  # a report of progress moves the stall deadline
        entry.stalls_at = stall_deadline(entry, now)
    return changed


# How long after it occurred a job may stay IN_PROGRESS: the sweeper calls it stalled then at the latest, so no job
# is still running when its entry leaves the table (template.yaml's HotTableDays is at least this plus a day).
LONGEST_RUN = timedelta(days=6)


def stall_deadline(entry: Entry, reported_at: datetime) -> Optional[datetime]:
    """When an IN_PROGRESS job that reported at ``reported_at`` stalls if nothing follows: plus its timeout.

    Rounded up to a whole step (a fifteenth of the timeout, between 1 s and 1 min): reports
    within one step keep the deadline, so they do not rewrite the ``open_jobs`` index item
    (two write units each). The sweeper runs every few minutes; it loses no precision.
    """
    if entry.type is not EntryType.BACKGROUND_JOB or entry.status is not Status.IN_PROGRESS:
        return None
    timeout = timeout_of(entry.metadata)
    step = min(60, max(1, int(timeout.total_seconds()) // 15))
    deadline = math.ceil((reported_at + timeout).timestamp() / step) * step
    return min(datetime.fromtimestamp(deadline, timezone.utc), entry.occurred_at + LONGEST_RUN)


def mark_stalled(entry: Entry, now: datetime) -> bool:
    """The sweeper's verdict on a job past its stall deadline: WARNING "stalled", its last progress kept.

    False (and nothing changed) unless it is IN_PROGRESS and its deadline has passed: a
    job that reported or finished meanwhile is left as it is.
    """
    if entry.status is not Status.IN_PROGRESS or entry.stalls_at is None or entry.stalls_at > now:
        return False
    timeout = timeout_of(entry.metadata)
    entry.status = Status.WARNING
    entry.error = {
        "message": f"stalled: no progress reported for {_span(timeout)} (the job's timeout); "
        "it may have crashed. Its last progress is kept.",
        "type": "JobStalled",
    }
    entry.metadata = {
        **entry.metadata,
        "stalled": {"deadline": entry.stalls_at.isoformat(), "timeout_seconds": int(timeout.total_seconds())},
    }
    entry.finished_at = now
    entry.stalls_at = None
    return True


def _span(length: timedelta) -> str:
    seconds = int(length.total_seconds())
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def _finish_time(finished_at: Optional[datetime], occurred_at: datetime) -> datetime:
    """When a finished entry finished: as its writer says (never before it began), else when it began."""
    if finished_at is None:
        return occurred_at
    if finished_at < occurred_at:
        raise BadRequest("finished_at must not be before occurred_at", "finished_at")
    return finished_at


def merge_metadata(current: dict, update: dict, path: str = "metadata") -> dict:
    """Deep-merge ``update`` into ``current``: later values win, ``None`` removes a key.

    >>> merge_metadata({"processed": 500, "remaining": 20, "job": {"batch": 1}}, {"remaining": 0, "job": {"total": 9, "batch": None}})
    {'processed': 500, 'remaining': 0, 'job': {'total': 9}}
    """
    merged = dict(current)
    for key, value in update.items():
        old = merged.get(key)
        where = f"{path}.{key}"
        if value is None:
            merged.pop(key, None)
        elif is_marker(old) or is_marker(value):  # a masked field's value: replaced whole, whatever it was
            merged[key] = value
        elif isinstance(old, dict) and isinstance(value, dict):
            merged[key] = merge_metadata(old, value, where)
        else:
            if old is not None and _json_kind(old) != _json_kind(value):
                raise BadRequest(
                    f"{where} is a {_json_kind(old)}; an update may not make it a {_json_kind(value)}", where
                )
            merged[key] = value
    return merged


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"
