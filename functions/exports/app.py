"""The exports function: POST /exports, GET /exports/{id}, GET /exports/{id}/download.

A small export is answered here as the CSV; a large one is recorded and handed to the export
state machine (infra/statemachines/export.asl.json). Bodies are checked strictly first
(``writes.checked``); the download route is opened by its link's signed token, not a bearer.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, exports
from activitylog.api.writes import checked
from activitylog.requestbody import loads
from activitylog.api.source import HTTP_API
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver(json_body_deserializer=loads)
app.include_router(exports.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, lambda event, context: app.resolve(checked(event), context))
