"""The OpenAPI document of the whole API: both routers, with the shapes they answer."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from activitylog.api import (
    alerts,
    erasures,
    exports,
    reads,
    recoveries,
    retries,
    retry,
    settings,
    streams,
    support,
    writes,
)
from activitylog.entry import ORG_ID
from activitylog.masking import MAX_PATTERN_CHARACTERS, MAX_PATTERNS
from activitylog.query.filters import CATALOG_PARAMETERS, MEMBER_PARAMETERS, PARAMETERS, REASON
from activitylog.responses import SCHEMAS
from activitylog.scopes import ROUTE_SCOPES
from activitylog.support.access import REASON_CHARACTERS
from activitylog.tracecontext import TRACE_ID
from activitylog.webhooks import receiver
from activitylog.webhooks.providers import PROVIDERS

TITLE, VERSION = "Activity Logs API", "1.0.0"


def openapi_document() -> dict:
    """Every route of every API function, as one document."""
    app = APIGatewayHttpResolver()  # the write routes turn validation on themselves
    app.include_router(reads.routes())
    app.include_router(writes.routes())
    app.include_router(retry.routes())
    app.include_router(retries.routes())
    app.include_router(settings.routes())
    app.include_router(streams.routes())
    app.include_router(alerts.routes())
    app.include_router(erasures.routes())
    app.include_router(support.routes())
    app.include_router(receiver.routes())
    app.include_router(recoveries.routes())
    app.include_router(exports.routes())
    # Every documented route is behind the JWT authorizer (a 401 without a valid token).
    document = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            security=[{"jwt": []}],
            security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")},
        )
    )
    document.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    # GET /activities reads its parameters itself (no pydantic on the read path); they are
    # documented from the same table that parses them.
    # A route without an authorizer (scopes.py: no scopes) needs no token: an emailed download link.
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if ROUTE_SCOPES.get(f"{method.upper()} {path}") == frozenset():
                operation["security"] = []
    patterns = {"trace_id": TRACE_ID}  # the rest are checked by the parser, which says what it takes
    document["paths"]["/activities"]["get"]["parameters"] = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string", **({"pattern": patterns[name]} if name in patterns else {})},
            "description": text,
        }
        for name, text in PARAMETERS.items()
    ]
    document["paths"]["/members"]["get"]["parameters"] = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in MEMBER_PARAMETERS.items()
    ]
    document["paths"]["/catalog"]["get"]["parameters"] = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in CATALOG_PARAMETERS.items()
    ]
    # Support's read takes the reason it is recorded with (activitylog.support.access), read from the raw query.
    for path in ("/support/activities/{id}", "/support/activities/{id}/proof"):
        document["paths"][path]["get"].setdefault("parameters", []).append(
            {
                "name": "reason",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": REASON_CHARACTERS},
                "description": "why support reads this entry (a ticket, a case): recorded with the read in the org's log",
            }
        )
    # The ordinary reads of one entry take it too: required of a support-only token (GET /activities has it above).
    for path in ("/activities/{id}", "/activities/{id}/related"):
        document["paths"][path]["get"].setdefault("parameters", []).append(
            {"name": "reason", "in": "query", "required": False, "schema": {"type": "string"}, "description": REASON}
        )
    # The webhook route reads its body as raw bytes (it has no authorizer: the provider signs).
    webhook = document["paths"]["/webhooks/{provider}/{org_id}"]["post"]
    webhook["requestBody"] = {
        "required": True,
        "description": "the provider's event, exactly as it signed it",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    for parameter in webhook.get("parameters", []):
        if parameter["name"] == "provider":
            parameter["schema"] = {"enum": sorted(PROVIDERS)}
        if parameter["name"] == "org_id":  # the org ids the API's tokens may carry (activitylog.entry.ORG_ID)
            parameter["schema"] = {"type": "string", "pattern": f"^{ORG_ID}$"}
    recovery = document["paths"]["/recoveries/{provider}"]["post"]
    recovery["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["from"],
                    "additionalProperties": False,
                    "properties": {
                        "from": {"type": "string", "format": "date-time"},
                        "to": {"type": "string", "format": "date-time", "description": "default: now"},
                        "preview": {"type": "boolean", "default": False},
                    },
                }
            }
        },
    }
    for parameter in recovery.get("parameters", []):
        if parameter["name"] == "provider":
            parameter["schema"] = {"enum": sorted(PROVIDERS)}
    # The masked fields are checked by the domain (activitylog.masking: a bad one is a 400 on patterns.N).
    document["paths"]["/settings/privacy"]["put"]["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["patterns"],
                    "additionalProperties": False,
                    "properties": {
                        "patterns": {
                            "type": "array",
                            "maxItems": MAX_PATTERNS,
                            "items": {"type": "string", "pattern": "^/", "maxLength": MAX_PATTERN_CHARACTERS},
                            "description": "JSON Pointers; * one segment, ** any number: /ssn, /**/salary",
                        }
                    },
                }
            }
        },
    }
    return document
