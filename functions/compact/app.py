"""The compaction function: every day, each org's archived days that left the table become warm Parquet files.

Scheduled daily (template.yaml); ``activitylog run CompactFunction`` runs it now, and
``--event '{"through": "YYYY-MM-DD"}'`` stops at an earlier day (never later than
``compactable_through``: a younger entry may still change). Its role lists and reads the archive
and reads and writes the warm bucket; it reads no table.
"""

from datetime import date, datetime, timezone

from aws_lambda_powertools.metrics import MetricUnit

from activitylog.observability import logger, metrics
from activitylog.warm.compact import compact_orgs, compactable_through
from activitylog.wiring import SCHEDULE, Container, container, entrypoint


def compact(wired: Container, event: dict, context: object) -> dict:
    through = compactable_through(datetime.now(timezone.utc), wired.settings.hot_table_days)
    if event.get("through"):
        through = min(through, date.fromisoformat(event["through"]))
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    done = compact_orgs(wired.archive, wired.warm_bucket, through, (lambda: remaining() / 1000) if remaining else None)
    metrics.add_metric(name="OrgsCompacted", unit=MetricUnit.Count, value=done["orgs"])
    metrics.add_metric(name="EntriesCompacted", unit=MetricUnit.Count, value=done["entries"])
    metrics.add_metric(name="WarmFilesWritten", unit=MetricUnit.Count, value=done["files"])
    metrics.add_metric(name="OrgsLeftForNextRun", unit=MetricUnit.Count, value=done["orgs_left"])
    logger.info("compacted", extra=done | {"through": through.isoformat()})
    if done["failed"]:  # the others were compacted; the run fails so FunctionErrorsPipelineAlarm says so
        raise RuntimeError(f"compaction failed for {len(done['failed'])} orgs: {', '.join(done['failed'][:10])}")
    return done | {"through": through.isoformat()}


lambda_handler = entrypoint(SCHEDULE, lambda event, context: compact(container(), event or {}, context))
