"""The record function: POST /activities, POST /activities/batch, PATCH /activities/{id}.

Writes entries (and Powertools' idempotency records). Each body is checked strictly
before Powertools sees it (``writes.checked``): every refusal is a 4xx naming the field.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, writes
from activitylog.requestbody import loads
from activitylog.api.source import HTTP_API
from activitylog.wiring import entrypoint

# Bodies are parsed once, strictly; each route turns Powertools' validation on.
app = APIGatewayHttpResolver(json_body_deserializer=loads)
app.include_router(writes.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, lambda event, context: app.resolve(writes.checked(event), context))
