"""The document function: GET /openapi.json, the whole API's OpenAPI document (no authorizer).

It touches no data: its role has no permissions beyond its logs.
"""

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from activitylog.api import common
from activitylog.api.document import openapi_document
from activitylog.api.source import HTTP_API
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver()
common.answer_errors(app)
_document = json.dumps(openapi_document())  # the same for every request of this code version


@app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def document() -> Response:
    return Response(200, "application/json", _document)


lambda_handler = entrypoint(HTTP_API, app.resolve)
