"""The sweeper: jobs that stopped reporting (a crashed worker) become WARNING "stalled".

Run on an EventBridge schedule (template.yaml's SweeperFunction). An IN_PROGRESS job whose
last progress is older than its timeout (``activitylog.jobtypes``; 15 minutes by default) is past its
stall deadline; the ``open_jobs`` index holds exactly the IN_PROGRESS jobs by deadline, so
finding them is one range query per partition, never a scan. Each is marked by
``rules.mark_stalled`` (its last progress kept) and saved with a compare-and-set on its
version and status: a job that reports or finishes at that very moment wins, and the
sweeper decides again on what it wrote.

``sweep(container().service)`` answers how many jobs were ``due`` and how many it marked ``stalled``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from activitylog.entry import Status
from activitylog.observability import logger
from activitylog.rules import mark_stalled
from activitylog.service import ActivityService
from activitylog.store import backoff

MAX_PER_RUN = 500  # the schedule comes back for the rest
ATTEMPTS = 5


def sweep(service: ActivityService, now: Optional[datetime] = None, limit: int = MAX_PER_RUN) -> dict:
    """Mark every job past its stall deadline stalled; answers how many were due and how many it marked."""
    now = now or service.clock()
    due = service.open_jobs_due(now, limit)
    stalled = sum(_stall(service, org, shard, entry_id, now) for org, shard, entry_id in due)
    logger.info("sweep done", extra={"due": len(due), "stalled": stalled})
    return {"due": len(due), "stalled": stalled}


def _stall(service: ActivityService, org: str, shard: int, entry_id: str, now: datetime) -> bool:
    for attempt in range(ATTEMPTS):
        entry = service.stored_at(org, shard, entry_id)
        if entry is None or not mark_stalled(entry, now):
            return False  # gone, finished, or it reported since the index was read
        # The entry stays under its own shard (entry.shard); its detail key follows the org's hot retention.
        if service.save(org, entry, expected_status=Status.IN_PROGRESS):
            logger.warning("job stalled", extra={"org_id": org, "entry_id": entry_id, "event": entry.event})
            return True
        backoff(attempt)  # it changed meanwhile: decide again on what is there now
    return False
