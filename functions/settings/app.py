"""The settings function: GET and PUT /settings/retention, /settings/privacy and /settings/streams, and POST
/privacy/erasures, for an org's admins, and /alerts, for its members.

Its role reads and writes the org's meta items and records the change's SYSTEM_EVENT entry
(PutItem in one transaction with the policy, the stream or the alert), and the streams' and alerts' secrets; it touches
nothing else.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import alerts, common, erasures, settings, streams, writes
from activitylog.requestbody import loads
from activitylog.api.source import HTTP_API
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver(json_body_deserializer=loads)
app.include_router(settings.routes())
app.include_router(streams.routes())
app.include_router(alerts.routes())
app.include_router(erasures.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, lambda event, context: app.resolve(writes.checked(event), context))
