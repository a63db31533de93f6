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


JOB_TYPES: dict[str, JobType] = {job.name: job for job in (
    JobType("PROCESS_RELEASE_PAYMENTS", "Release payments", retryable=True, timeout=timedelta(minutes=30),
            verb="processed_payments"),
    JobType("SYNC_SQUARE_STOCK", "Square stock sync", retryable=True, verb="synced"),
    JobType("SYNC_WOO_ORDERS", "WooCommerce order sync", retryable=True, verb="synced"),
    JobType("GENERATE_FULFILLMENT_BATCH", "Fulfillment batch", retryable=True, verb="generated"),
    JobType("NIGHTLY_CONTACT_DEDUPE", "Contact de-duplication", retryable=True, timeout=timedelta(minutes=60),
            verb="deduplicated"),
    JobType("SEND_CLUB_REMINDERS", "Club reminder emails", retryable=False, verb="sent",
            refusal="sends emails to members: a retry could send them twice; re-send it from the release page"),
    JobType("IMPORT_CONTACTS", "Contact import", retryable=False, timeout=timedelta(minutes=60), verb="imported"),
    JobType("INITIAL_SQUARE_IMPORT", "Initial Square import", retryable=False, timeout=timedelta(minutes=60), verb="imported"),
    JobType(SEND_WEBHOOK, "Outgoing webhook delivery", retryable=True, timeout=timedelta(minutes=2), verb="sent"),
)}


def job_type(name: Optional[str]) -> JobType:
    """The registered type, or an unregistered one: default timeout, not retryable."""
    if name in JOB_TYPES:
        return JOB_TYPES[name]
    return JobType(str(name), str(name), retryable=False, refusal="is not a registered job type: the log cannot retry it")


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
