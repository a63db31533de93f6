"""What every API function shares: the caller from verified claims, the service, and errors.

The org and the caller come only from the JWT authorizer's verified claims, never from a
body or a query string.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.api.errors import answer_of
from activitylog.errors import ActivityLogError, NotFound, Unauthorized, Unavailable
from activitylog.observability import logger, metrics
from activitylog.service import ActivityService, Caller
from activitylog.wiring import container

if TYPE_CHECKING:
    from activitylog.exports.service import ExportService
    from activitylog.jobs.client import Publisher


def service() -> ActivityService:
    """The service, built once per execution environment from its settings (``activitylog.wiring``)."""
    return container().service


def exports() -> "ExportService":
    """The export service, built once per execution environment over the same activity service."""
    return container().exports


def idempotency() -> Any:
    """Powertools' idempotency records, for ``activitylog.idempotency.run_once``."""
    return container().idempotency


def publisher() -> "Publisher":
    """The platform bus's publisher of this execution environment."""
    return container().publisher


def caller(event: Any) -> Caller:
    """The caller from the authorizer's verified claims."""
    authorizer = event.request_context.authorizer
    claims = (authorizer.jwt_claim if authorizer else None) or {}
    org, subject = claims.get("org_id"), claims.get("sub")
    if not org or not subject:
        raise Unauthorized("the token must carry org_id and sub claims", "authorization")
    scopes = set(str(claims.get("scope") or claims.get("scp") or "").split())
    scopes.update((authorizer.jwt_scopes or []) if authorizer else [])
    logger.append_keys(org_id=str(org), caller=str(subject))
    return Caller(
        org=str(org), subject=str(subject), scopes=frozenset(scopes), name=claims.get("name"), email=claims.get("email")
    )


def error(status: int, body: dict, headers: Optional[dict] = None) -> Response:
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return Response(status, "application/json", json.dumps(body), headers=headers or None)


def answer_errors(app: ApiGatewayResolver) -> None:
    """Every refusal as ``{message, field}``: domain errors, a path no route matches, and DynamoDB not
    serving a request after the clients' retries (a 503 with Retry-After; anything else stays a 500)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    from activitylog.store import unavailable

    @app.exception_handler(ActivityLogError)
    def domain_error(failure: ActivityLogError) -> Response:
        return error(*answer_of(failure))

    @app.exception_handler([PynamoDBException, BotoCoreError, ClientError])
    def aws_error(failure: Exception) -> Response:
        if not unavailable(failure):
            raise failure
        logger.warning("DynamoDB did not serve the request: answered 503", extra={"error": str(failure)})
        return domain_error(
            Unavailable("the log's database did not answer; nothing was written, retry after Retry-After seconds")
        )

    @app.not_found
    def no_route(_failure: Exception) -> Response:
        event = app.current_event
        return domain_error(NotFound(f"no route for {event.http_method} {event.path}", "path"))


def answer_validation_errors(router: Any, body_parameters: tuple[str, ...]) -> None:
    """Powertools' validation errors as ``{message, field}``, the field a dotted path as the document
    names it (``body_parameters``: the handlers' body argument names, which Powertools puts first)."""
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

    @router.exception_handler(RequestValidationError)
    def invalid_request(failure: RequestValidationError) -> Response:
        first = failure.errors()[0] if failure.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
        if location and location[0] in body_parameters:
            location = location[1:]
        field = ".".join(location) or "body"
        message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
        return error(400, {"message": f"{field}: {message}", "field": field})
