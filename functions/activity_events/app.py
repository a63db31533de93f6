"""The activity events function: the platform bus's activity events (rule → SQS) become entries.

BatchSize 10, ReportBatchItemFailures: each event creates its entry or moves its job run's
entry along (activitylog.jobs.ingest); what fails comes back, then rests in the DLQ.
"""

from typing import Any

from activitylog.api.common import service
from activitylog.jobs.ingest import handle_batch
from activitylog.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    return handle_batch(service(), event, context)
