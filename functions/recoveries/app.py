"""The recovery function: POST /recoveries/{provider}, for an org's admins (activity:admin).

Lists the provider's events of a window with the org's key for its API (a SecureString under
PROVIDER_KEYS_PATH), and records those the log misses as their deliveries would have been, each
with its event's marker (activitylog.webhooks.recovery). Its role reads those keys, the markers and
the org's meta items, and writes entries and markers; it cannot read the webhook signing secrets.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, recoveries, writes
from activitylog.api.source import HTTP_API
from activitylog.requestbody import loads
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver(json_body_deserializer=loads)
app.include_router(recoveries.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, lambda event, context: app.resolve(writes.checked(event), context))
