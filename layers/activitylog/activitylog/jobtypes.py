"""The register of job types: every job the platform runs, whether the log may retry it, and when it stalls.

One table, read by the job client (a run's timeout and retryability), the entry rules (when
an IN_PROGRESS run stalls), the sweeper and the Retry route. A type missing here may still
log its runs: it stalls after ``DEFAULT_TIMEOUT`` and cannot be retried from the log.

>>> job_type("SYNC_SQUARE_STOCK").retryable
True
>>> job_type("IMPORT_CONTACTS").retry_refusal
'IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

from activitylog.entry import Entry, EntryType, Status
from activitylog.errors import Conflict

DEFAULT_TIMEOUT = timedelta(minutes=15)
ONE_TIME_SYNC = "is a one-time sync: re-trigger it from its integration page"
# An outgoing webhook's delivery is retried like a job of this type (its request is its parameters).
SEND_WEBHOOK = "SEND_WEBHOOK"


@dataclass(frozen=True)
class JobType:
    name: str
    label: str
    retryable: bool
    timeout: timedelta = DEFAULT_TIMEOUT  # no progress for this long: the sweeper marks the run stalled
    verb: str = "ran"  # the entry's action
    refusal: str = ONE_TIME_SYNC  # why the log will not retry it (when not retryable)

    @property
    def retry_refusal(self) -> Optional[str]:
        return None if self.retryable else f"{self.name} {self.refusal}"


JOB_TYPES: dict[str, JobType] = {
    job.name: job
    for job in (
        JobType(
            "PROCESS_RELEASE_PAYMENTS",
            "Release payments",
            retryable=True,
            timeout=timedelta(minutes=30),
            verb="processed_payments",
        ),
        JobType("SYNC_SQUARE_STOCK", "Square stock sync", retryable=True, verb="synced"),
        JobType("SYNC_WOO_ORDERS", "WooCommerce order sync", retryable=True, verb="synced"),
        JobType("GENERATE_FULFILLMENT_BATCH", "Fulfillment batch", retryable=True, verb="generated"),
        JobType(
            "NIGHTLY_CONTACT_DEDUPE",
            "Contact de-duplication",
            retryable=True,
            timeout=timedelta(minutes=60),
            verb="deduplicated",
        ),
        JobType(
            "SEND_CLUB_REMINDERS",
            "Club reminder emails",
            retryable=False,
            verb="sent",
            refusal="sends emails to members: a retry could send them twice; re-send it from the release page",
        ),
        JobType("IMPORT_CONTACTS", "Contact import", retryable=False, timeout=timedelta(minutes=60), verb="imported"),
        JobType(
            "INITIAL_SQUARE_IMPORT",
            "Initial Square import",
            retryable=False,
            timeout=timedelta(minutes=60),
            verb="imported",
        ),
        JobType(SEND_WEBHOOK, "Outgoing webhook delivery", retryable=True, timeout=timedelta(minutes=2), verb="sent"),
    )
}


def job_type(name: Optional[str]) -> JobType:
    """The registered type, or an unregistered one: default timeout, not retryable."""
    if name in JOB_TYPES:
        return JOB_TYPES[name]
    return JobType(
        str(name), str(name), retryable=False, refusal="is not a registered job type: the log cannot retry it"
    )


def job_name(metadata: dict[str, Any]) -> Optional[str]:
    """The job type a run's metadata names: ``{"job": "SYNC_SQUARE_STOCK"}`` (or ``{"job": {"name": …}}``)."""
    job = metadata.get("job")
    if isinstance(job, dict):
        job = job.get("name")
    return job if isinstance(job, str) else None


def timeout_of(metadata: dict[str, Any]) -> timedelta:
    """How long a run may go without progress: its own ``timeout_seconds``, else its type's."""
    own = metadata.get("timeout_seconds")
    if isinstance(own, (int, float)) and not isinstance(own, bool) and own > 0:
        return timedelta(seconds=own)
    return job_type(job_name(metadata)).timeout


def retry_target(entry: Entry) -> tuple[str, dict]:
    """The job type and parameters a retry of ``entry`` runs; a ``Conflict`` (409) saying why it cannot be retried.

    A FAILED or WARNING BACKGROUND_JOB, or outgoing webhook (a WEBHOOK the platform ``sent``,
    run again as ``SEND_WEBHOOK``), of a type registered retryable whose run did not opt out.
    """
    if entry.status not in (Status.FAILED, Status.WARNING):
        raise Conflict(f"only a FAILED or WARNING entry can be retried; this one is {entry.status.value}", "id")
    metadata = entry.metadata or {}
    if entry.type is EntryType.BACKGROUND_JOB:
        name, params = job_name(metadata), metadata.get("params")
    elif entry.type is EntryType.WEBHOOK and entry.action == "sent":
        name, params = SEND_WEBHOOK, _delivery(metadata)
    else:
        raise Conflict("only a background job or an outgoing webhook can be retried", "id")
    if name is None:
        raise Conflict(
            "this job's entry does not name its job type (metadata.job): it cannot be retried from here", "id"
        )
    refusal = job_type(name).retry_refusal
    if refusal:
        raise Conflict(refusal, "id")
    if metadata.get("retryable") is False:
        raise Conflict(f"this run of {name} was recorded as not retryable: re-trigger it where it started", "id")
    return name, params if isinstance(params, dict) else {}


def _delivery(metadata: dict[str, Any]) -> Optional[dict]:
    """What a retry of an outgoing webhook sends again: its topic, URL, method and (redacted) body."""
    webhook = metadata.get("webhook")
    if isinstance(webhook, dict) and webhook.get("direction") == "outgoing":
        request = webhook.get("request") or {}
        sent = {
            "topic": metadata.get("topic"),
            "url": webhook.get("url"),
            "method": webhook.get("method"),
            "body": request.get("body"),
        }
        return {key: value for key, value in sent.items() if value is not None}
    return metadata.get("request")  # an entry recorded before the webhook shape: {topic, url}


def retry_state(entry: Entry) -> Optional[dict]:
    """What the detail panel says about retrying: None for an entry retry is not about (a success,
    a user action), else ``{"allowed": true}`` or ``{"allowed": false, "reason": …}``."""
    outgoing = entry.type is EntryType.WEBHOOK and entry.action == "sent"
    if entry.status not in (Status.FAILED, Status.WARNING) or not (entry.type is EntryType.BACKGROUND_JOB or outgoing):
        return None
    try:
        retry_target(entry)
    except Conflict as refused:
        return {"allowed": False, "reason": refused.message}
    return {"allowed": True}
