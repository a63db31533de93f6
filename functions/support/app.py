"""The support function: GET /support/activities/{id} (an entry by id from the hot table or the archive), its proof,
and POST /support/archive-queries (the record of a query of an org's archive, written before the query runs).

It reads the table (GetItem, and the org's meta items), large details, and the archive objects of the entry's hour;
for a proof, the org's digests and checkpoints and the signing key's public half. It writes only each read's record
in the org's log. A POST's body is checked strictly first (``writes.checked``).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from activitylog.api import common, support
from activitylog.api.source import HTTP_API
from activitylog.api.writes import checked
from activitylog.requestbody import loads
from activitylog.wiring import entrypoint

app = APIGatewayHttpResolver(json_body_deserializer=loads)
app.include_router(support.routes())
common.answer_errors(app)

lambda_handler = entrypoint(HTTP_API, lambda event, context: app.resolve(checked(event), context))
