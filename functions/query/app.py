"""The query function: GET /activities and GET /activities/{id} (template.yaml routes them here).

It only reads: its role allows Query and GetItem on the table and GetObject on the detail
bucket. No pydantic is imported on this path (the dashboard waits for its cold start).
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from activitylog.api import common, reads
from activitylog.observability import logger, metrics, traced

app = APIGatewayHttpResolver()
app.include_router(reads.routes())
common.answer_errors(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    return app.resolve(event, context)
