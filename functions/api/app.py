"""Activity Logs HTTP API: parse the request, call the domain, shape the answer.

Routes (template.yaml maps them here): GET /activities, GET /activities/{id},
POST /activities, POST /activities/batch, PATCH /activities/{id}, GET /openapi.json.
The org and the caller come only from the JWT authorizer's verified claims.

Reads are the dashboard's hot path: they parse their own parameters
(``activitylog.filters``) and never import pydantic. The write routes validate their
bodies with Powertools and pydantic, and are registered on the first request that
needs them (``register_writes``), so a reader's cold start does not pay for them.
A write's body is checked and parsed strictly (``activitylog.requestbody``) before
Powertools sees it: bytes, media type, UTF-8, one JSON object, finite numbers, depth.
"""

import json
from typing import Annotated, Any, Optional

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.errors import ActivityLogError, NotFound, Unauthorized
from activitylog.query.filters import PARAMETERS, parse_list_request
from activitylog.observability import logger, metrics, traced
from activitylog.requestbody import body_text, loads
from activitylog.responses import SCHEMAS, responses
from activitylog.service import ActivityService, Caller

MAX_BODY_BYTES = 1024 * 1024  # one entry
MAX_BATCH_BODY_BYTES = 5 * 1024 * 1024  # a batch of 100; below Lambda's 6 MB payload limit
TITLE, VERSION = "Activity Logs API", "1.0.0"

# Validation is per route (the write routes turn it on); bodies are parsed strictly, once.
app = APIGatewayHttpResolver(json_body_deserializer=loads)
_service: Optional[ActivityService] = None
_writes_registered = False


def service() -> ActivityService:
    global _service
    if _service is None:
        _service = ActivityService.from_environment()
    return _service


def caller() -> Caller:
    """The caller from verified claims; never from the body or the query string."""
    authorizer = app.current_event.request_context.authorizer
    claims = (authorizer.jwt_claim if authorizer else None) or {}
    org, subject = claims.get("org_id"), claims.get("sub")
    if not org or not subject:
        raise Unauthorized("the token must carry org_id and sub claims", "authorization")
    scopes = set(str(claims.get("scope") or claims.get("scp") or "").split())
    scopes.update((authorizer.jwt_scopes or []) if authorizer else [])
    logger.append_keys(org_id=str(org), caller=str(subject))
    return Caller(org=str(org), subject=str(subject), scopes=frozenset(scopes), name=claims.get("name"))


# -- reads ----------------------------------------------------------------------------


@app.get("/activities", summary="List entries, newest first, filtered by any combination of axes",
         responses=responses({200: ("One page, newest first", "ListPage")}, 400, 401, 403))
def list_activities():
    # The raw parameters, so unknown ones are refused by name rather than ignored.
    request = parse_list_request(app.current_event.query_string_parameters or {})
    result = service().list(caller(), request)
    metrics.add_metric(name="ReadAmplification", unit=MetricUnit.Count, value=result.page.read_amplification)
    metrics.add_metric(name="EntriesListed", unit=MetricUnit.Count, value=len(result.items))
    return result.to_dict()


@app.get("/activities/<id>", summary="One whole entry: actor, entity, changes, metadata, error",
         responses=responses({200: ("The entry", "EntryDetail")}, 400, 401, 403, 404))
def get_activity(id: str):  # noqa: A002 - the route's own name
    entry = service().get(caller(), id)
    metrics.add_metric(name="EntriesRead", unit=MetricUnit.Count, value=1)
    return entry.detail_view()


@app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi_document():
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    register_writes()
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
    return Response(200, "application/json", json.dumps(document))


# -- writes ---------------------------------------------------------------------------


def register_writes() -> None:
    """Register the write routes, whose bodies Powertools validates with pydantic models."""
    global _writes_registered
    if _writes_registered:
        return
    _writes_registered = True

    from aws_lambda_powertools.event_handler.openapi.params import Body, Header
    from pydantic import BaseModel, ConfigDict, Field

    from activitylog.inputs import EntryUpdate, NewEntry

    class BatchRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")  # as a single entry: an unknown key is refused, not ignored

        entries: list[dict[str, Any]] = Field(description="up to 100 entries, each like POST /activities")

    def idempotency_key() -> Header:
        return Header(alias="Idempotency-Key", description="send the same key when retrying: the write happens once")

    writes = (400, 401, 403, 409, 413, 415, 503)

    @app.post("/activities", summary="Record one entry", enable_validation=True,
              responses=responses({201: ("Recorded (or, for a retried Idempotency-Key, recorded before)", "EntryDetail")},
                                  *writes))
    def record_activity(entry: Annotated[NewEntry, Body()], key: Annotated[Optional[str], idempotency_key()] = None):
        who = caller()
        recorded = _once(who, "POST /activities", key, entry.model_dump(mode="json"),
                         lambda: service().record(who, entry).detail_view())
        metrics.add_metric(name="EntriesWritten", unit=MetricUnit.Count, value=1)
        return Response(201, "application/json", json.dumps(recorded))

    @app.post("/activities/batch", summary="Record up to 100 entries; invalid ones are reported, valid ones written together",
              enable_validation=True,
              responses=responses({200: ("Every entry recorded", "BatchResult"),
                                   207: ("Some entries rejected (see results); the valid ones recorded", "BatchResult")},
                                  *writes))
    def record_activities(batch: Annotated[BatchRequest, Body()], key: Annotated[Optional[str], idempotency_key()] = None):
        who = caller()
        result = _once(who, "POST /activities/batch", key, batch.entries,
                       lambda: service().record_batch(who, batch.entries))
        metrics.add_metric(name="EntriesWritten", unit=MetricUnit.Count, value=result["accepted"])
        return Response(200 if not result["rejected"] else 207, "application/json", json.dumps(result))

    @app.patch("/activities/<id>", summary="Job progress and completion", enable_validation=True,
               responses=responses({200: ("The entry as updated", "EntryDetail")}, *writes, 404))
    def update_activity(id: str, update: Annotated[EntryUpdate, Body()],  # noqa: A002
                        key: Annotated[Optional[str], idempotency_key()] = None):
        who = caller()
        # The key is scoped to this entry: the same key on another entry is another update.
        updated = _once(who, f"PATCH /activities/{id}", key, update.model_dump(mode="json"),
                        lambda: service().update(who, id, update).detail_view())
        metrics.add_metric(name="EntriesUpdated", unit=MetricUnit.Count, value=1)
        return updated


def _once(who: Caller, route: str, key: Optional[str], body: Any, operation) -> dict:
    """Run a write once per Idempotency-Key; without a key, just run it."""
    if key is None:
        return operation()
    from activitylog.idempotency import run_once

    return run_once(who.org, route, key, body, app.lambda_context, operation)


# -- errors ---------------------------------------------------------------------------


@app.exception_handler(ActivityLogError)
def domain_error(error: ActivityLogError):
    return _error(error.status_code, error.to_dict(), error.headers)


@app.not_found
def no_route(_error: Exception):
    # A path the template routes here but no handler matches (e.g. an id with a quote in it).
    return domain_error(NotFound(f"no route for {app.current_event.http_method} {app.current_event.path}", "path"))


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError):
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    # Powertools puts the parameter name first for a body model; drop it so fields read as in the document.
    if location and location[0] in ("entry", "batch", "update"):
        location = location[1:]
    field = ".".join(location) or "body"
    message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    return _error(400, {"message": f"{field}: {message}", "field": field})


def _error(status: int, body: dict, headers: Optional[dict] = None) -> Response:
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return Response(status, "application/json", json.dumps(body), headers=headers or None)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    if event.get("requestContext", {}).get("http", {}).get("method") in ("POST", "PATCH"):
        register_writes()
        try:
            event = _with_checked_body(event)
        except ActivityLogError as error:
            refusal = _error(error.status_code, error.to_dict())
            return {"statusCode": refusal.status_code, "headers": {"Content-Type": "application/json"}, "body": refusal.body}
    return app.resolve(event, context)


def _with_checked_body(event: dict) -> dict:
    """The event with its body as checked UTF-8 text, so Powertools never decodes bytes itself.

    The content type is normalised once it has been checked (``APPLICATION/JSON`` is JSON),
    and set when there is no body, so Powertools always reads the body as JSON.
    """
    limit = MAX_BATCH_BODY_BYTES if event.get("rawPath", "").endswith("/batch") else MAX_BODY_BYTES
    text = body_text(event, limit)
    headers = {name: value for name, value in (event.get("headers") or {}).items() if name.lower() != "content-type"}
    return {**event, "body": text, "isBase64Encoded": False, "headers": {**headers, "content-type": "application/json"}}
