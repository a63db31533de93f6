"""The retry function: POST /activities/{id}/retry (template.yaml routes it here, scope activity:retry).

Reads the entry, asks for the run on the platform bus (RetryRequested) and records the
caller's "Retried …" through the bus too; its role holds GetItem, events:PutEvents on that
bus and the idempotency records, nothing else (activitylog.jobs.retry).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, retry
from activitylog.api.source import HTTP_API
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver()
app.include_router(retry.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, app.resolve)
