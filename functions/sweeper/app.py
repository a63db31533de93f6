"""The sweeper function: on its schedule, IN_PROGRESS jobs past their stall deadline become WARNING "stalled",
and each minute of webhook rejections past their quota gets its summary entry.

One range query per partition of the open_jobs index, then a compare-and-set per job
(activitylog.jobs.sweeper); the same index holds the rejection minutes that are due
(activitylog.webhooks.rejections). Run it now with ``activitylog run SweeperFunction``.
"""

from typing import Any

from activitylog.api.common import service
from activitylog.jobs.sweeper import sweep
from activitylog.observability import logger, metrics
from activitylog.webhooks.rejections import summarize


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    result = sweep(service())
    metrics.add_metric(name="JobsStalled", unit="Count", value=result["stalled"])
    result["rejection_summaries"] = summarize(service(), service().clock())
    metrics.add_metric(name="WebhookRejectionSummaries", unit="Count", value=result["rejection_summaries"])
    return result
