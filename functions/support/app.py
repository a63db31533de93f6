"""The support function: GET /support/activities/{id} (an entry by id from the hot table or the archive) and its proof.

It only reads: the table (GetItem, and the org's meta items), large details, and the
archive objects of the entry's hour; for a proof, the org's digests and checkpoints and the signing key's public half.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, support
from activitylog.api.source import HTTP_API
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver()
app.include_router(support.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, app.resolve)
