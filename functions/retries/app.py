"""The bulk retry function: POST /retries (preview, confirm), GET /retries, GET /retries/{id}, POST /retries/{id}/cancel.

Reads the matching entries with the list's own plan, records the bulk retry's entry and starts its
state machine (infra/statemachines/bulk_retry.asl.json); its role reads entries, writes that entry and
the progress items, and starts that machine (activitylog.jobs.bulk).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, retries, writes
from activitylog.api.source import HTTP_API
from activitylog.requestbody import loads
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver(json_body_deserializer=loads)
app.include_router(retries.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, lambda event, context: app.resolve(writes.checked(event), context))
