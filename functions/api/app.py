"""Activity Logs HTTP API: parse the request, call the domain, shape the answer.

Routes (template.yaml maps them here): GET /activities, GET /activities/{id},
POST /activities, POST /activities/batch, PATCH /activities/{id}, GET /openapi.json.
The org and the caller come only from the JWT authorizer's verified claims.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from activitylog.entry import EntryUpdate, NewEntry
from activitylog.errors import ActivityLogError, PayloadTooLarge, Unauthorized
from activitylog.filters import parse_list_request
from activitylog.observability import logger, metrics, traced
from activitylog.service import ActivityService, Caller

MAX_BODY_BYTES = 1024 * 1024  # one entry
MAX_BATCH_BODY_BYTES = 5 * 1024 * 1024  # a batch of 100; below Lambda's 6 MB payload limit

app = APIGatewayHttpResolver(enable_validation=True)
_service: Optional[ActivityService] = None


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


class BatchRequest(BaseModel):
    entries: list[dict[str, Any]] = Field(description="up to 100 entries, each like POST /activities")


@app.get("/activities", summary="List entries, newest first, filtered by any combination of axes")
def list_activities(
    type: Annotated[Optional[list[str]], Query(description="USER_ACTION, BACKGROUND_JOB, WEBHOOK, SYSTEM_EVENT; repeat or comma-separate")] = None,
    status: Annotated[Optional[list[str]], Query(description="SUCCESS, IN_PROGRESS, WARNING, FAILED; repeat or comma-separate")] = None,
    user: Annotated[Optional[str], Query(description="a team member's id: their actions only")] = None,
    entity_type: Annotated[Optional[str], Query(description="contact, release, product, …")] = None,
    entity_id: Annotated[Optional[str], Query(description="one record's history (with entity_type)")] = None,
    date_from: Annotated[Optional[str], Query(alias="from", description="ISO 8601; default 24 h before `to`")] = None,
    date_to: Annotated[Optional[str], Query(alias="to", description="ISO 8601; default now")] = None,
    limit: Annotated[Optional[str], Query(description="1-200, default 50")] = None,
    cursor: Annotated[Optional[str], Query(description="next_cursor of the previous page")] = None,
):
    # The raw parameters, so unknown ones are refused by name rather than ignored.
    request = parse_list_request(app.current_event.query_string_parameters or {})
    result = service().list(caller(), request)
    metrics.add_metric(name="ReadAmplification", unit=MetricUnit.Count, value=result.page.read_amplification)
    metrics.add_metric(name="EntriesListed", unit=MetricUnit.Count, value=len(result.items))
    return result.to_dict()


@app.get("/activities/<id>", summary="One whole entry: actor, entity, changes, metadata, error")
def get_activity(id: Annotated[str, Path(description="the entry id (a ULID)")]):  # noqa: A002 - the route's own name
    return service().get(caller(), id).detail_view()


def idempotency_key_header() -> Header:
    return Header(alias="Idempotency-Key", description="send the same key when retrying: the write happens once")


@app.post("/activities", summary="Record one entry")
def record_activity(entry: Annotated[NewEntry, Body()], idempotency_key: Annotated[Optional[str], idempotency_key_header()] = None):
    who = caller()
    recorded = _once(who, "POST /activities", idempotency_key, entry.model_dump(mode="json"),
                     lambda: service().record(who, entry).detail_view())
    metrics.add_metric(name="EntriesWritten", unit=MetricUnit.Count, value=1)
    return Response(201, "application/json", json.dumps(recorded))


@app.post("/activities/batch", summary="Record up to 100 entries; invalid ones are reported, valid ones written together")
def record_activities(batch: Annotated[BatchRequest, Body()], idempotency_key: Annotated[Optional[str], idempotency_key_header()] = None):
    who = caller()
    result = _once(who, "POST /activities/batch", idempotency_key, batch.entries,
                   lambda: service().record_batch(who, batch.entries))
    metrics.add_metric(name="EntriesWritten", unit=MetricUnit.Count, value=result["accepted"])
    return Response(200 if not result["rejected"] else 207, "application/json", json.dumps(result))


@app.patch("/activities/<id>", summary="Job progress and completion")
def update_activity(id: Annotated[str, Path(description="the entry id (a ULID)")], update: Annotated[EntryUpdate, Body()]):  # noqa: A002
    return service().update(caller(), id, update).detail_view()


def _once(who: Caller, route: str, key: Optional[str], body: Any, operation) -> dict:
    """Run a write once per Idempotency-Key; without a key, just run it."""
    if key is None:
        return operation()
    from activitylog.idempotency import run_once

    return run_once(who.org, route, key, body, app.lambda_context, operation)


@app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi_document():
    return Response(200, "application/json", app.get_openapi_json_schema(title="Activity Logs API", version="1.0.0"))


@app.exception_handler(ActivityLogError)
def domain_error(error: ActivityLogError):
    return _error(error.status_code, error.to_dict())


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError):
    first = error.errors()[0] if error.errors() else {}
    if first.get("type") == "json_invalid":
        return _error(400, {"message": "body is not valid JSON", "field": "body"})
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    # Powertools puts the parameter name first for a body model; drop it so fields read as in the document.
    if location and location[0] in ("entry", "batch", "update"):
        location = location[1:]
    field = ".".join(location) or "body"
    message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    return _error(400, {"message": f"{field}: {message}", "field": field})


def _error(status: int, body: dict) -> Response:
    return Response(status, "application/json", json.dumps(body))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    body = event.get("body") or ""
    limit = MAX_BATCH_BODY_BYTES if event.get("rawPath", "").endswith("/batch") else MAX_BODY_BYTES
    if len(body) > limit:
        error = PayloadTooLarge(f"body is {len(body)} bytes; the limit is {limit}", "body")
        return {"statusCode": 413, "headers": {"Content-Type": "application/json"}, "body": json.dumps(error.to_dict())}
    return app.resolve(event, context)
