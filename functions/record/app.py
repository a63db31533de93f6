"""The record function: POST /activities, POST /activities/batch, PATCH /activities/{id}.

Writes entries (and Powertools' idempotency records); its body check runs before
Powertools sees the body, and every refusal is a 4xx naming the field.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from activitylog.api import common, writes
from activitylog.errors import ActivityLogError
from activitylog.observability import logger, metrics, traced
from activitylog.requestbody import loads

# Bodies are parsed once, strictly; each route turns Powertools' validation on.
app = APIGatewayHttpResolver(json_body_deserializer=loads)
app.include_router(writes.routes())
common.answer_errors(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    try:
        event = writes.checked(event)
    except ActivityLogError as refused:
        answer = common.error(refused.status_code, refused.to_dict())
        return {"statusCode": answer.status_code, "headers": {"Content-Type": "application/json"}, "body": answer.body}
    return app.resolve(event, context)
