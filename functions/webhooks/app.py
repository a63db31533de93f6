"""The webhook function: POST /webhooks/{provider}/{org_id} (no token: the provider's signature).

Verifies the signature with the org's secret, redacts the delivery, puts it on the webhook
queue and answers 200; a refused one is a 400 (activitylog.webhooks.receiver). Its role reads the
signing secrets, sends to the queue and records refusals, nothing else.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common
from activitylog.webhooks import receiver
from activitylog.api.source import HTTP_API
from activitylog.wiring import container, entrypoint

app = APIGatewayHttpResolver()
app.include_router(receiver.routes(lambda: container().receiver))
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, app.resolve)
