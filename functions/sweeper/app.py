"""The sweeper function: on its schedule, IN_PROGRESS jobs past their stall deadline become WARNING "stalled".

One range query per partition of the open_jobs index, then a compare-and-set per job
(activitylog.jobs.sweeper). Run it now with ``activitylog run SweeperFunction``.
"""

from typing import Any

from activitylog.api.common import service
from activitylog.jobs.sweeper import sweep
from activitylog.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    result = sweep(service())
    metrics.add_metric(name="JobsStalled", unit="Count", value=result["stalled"])
    return result
