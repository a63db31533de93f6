"""The query function: GET /activities, GET /activities/{id} (and /related) GET /members and GET /catalog (template.yaml routes them here).

It only reads: its role allows Query and GetItem on the table and GetObject on the detail
bucket. No pydantic is imported on this path (the dashboard waits for its cold start).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, reads
from activitylog.api.source import HTTP_API
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver()
app.include_router(reads.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, app.resolve)
