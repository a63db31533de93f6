"""The sweeper function: on its schedule, IN_PROGRESS jobs past their stall deadline become WARNING "stalled",
and each minute of webhook rejections past their quota gets its summary entry.

One range query per partition of the open_jobs index, then a compare-and-set per job
(activitylog.jobs.sweeper); the same index holds the rejection minutes that are due
(activitylog.webhooks.rejections). Run it now with ``activitylog run SweeperFunction``.
"""

from activitylog.jobs.sweeper import sweep
from activitylog.observability import metrics
from activitylog.service import ActivityService
from activitylog.webhooks.rejections import summarize
from activitylog.wiring import SCHEDULE, container, entrypoint


def sweep_and_summarize(service: ActivityService) -> dict:
    result = sweep(service)
    metrics.add_metric(name="JobsStalled", unit="Count", value=result["stalled"])
    result["rejection_summaries"] = summarize(service, service.clock())
    metrics.add_metric(name="WebhookRejectionSummaries", unit="Count", value=result["rejection_summaries"])
    return result


lambda_handler = entrypoint(SCHEDULE, lambda event, context: sweep_and_summarize(container().service))
