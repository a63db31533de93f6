"""The OpenAPI document of the whole API: both routers, with the shapes they answer."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from activitylog.api import reads, writes
from activitylog.webhooks import receiver
from activitylog.query.filters import PARAMETERS
from activitylog.responses import SCHEMAS
from activitylog.webhooks.providers import PROVIDERS

TITLE, VERSION = "Activity Logs API", "1.0.0"


def openapi_document() -> dict:
    """Every route of every API function, as one document."""
    app = APIGatewayHttpResolver()  # the write routes turn validation on themselves
    app.include_router(reads.routes())
    app.include_router(writes.routes())
    app.include_router(receiver.routes())
    # Every documented route is behind the JWT authorizer (a 401 without a valid token).
    document = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION, security=[{"jwt": []}],
                                                      security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")}))
    document.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    # GET /activities reads its parameters itself (no pydantic on the read path); they are
    # documented from the same table that parses them.
    document["paths"]["/activities"]["get"]["parameters"] = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in PARAMETERS.items()
    ]
    # The webhook route has no authorizer (the provider signs), and reads its body as raw bytes.
    webhook = document["paths"]["/webhooks/{provider}/{org_id}"]["post"]
    webhook["security"] = []
    webhook["requestBody"] = {"required": True, "description": "the provider's event, exactly as it signed it",
                              "content": {"application/json": {"schema": {"type": "object"}}}}
    for parameter in webhook.get("parameters", []):
        if parameter["name"] == "provider":
            parameter["schema"] = {"enum": sorted(PROVIDERS)}
    return document
