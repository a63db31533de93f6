"""The HTTP API as the event source of the API's functions: the request's id correlates their logs, and a
domain error raised before routing (a body checked before the resolver) is answered as the HTTP status
``api/errors.py`` gives it (inside the resolver, ``common.answer_errors`` does the same).

>>> from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
>>> from activitylog.wiring import entrypoint
>>> app = APIGatewayHttpResolver()
>>> lambda_handler = entrypoint(HTTP_API, app.resolve)  # functions/query/app.py, with its routes
"""

from __future__ import annotations

import json
from typing import Any, Callable

from aws_lambda_powertools.logging import correlation_paths

from activitylog.api.errors import answer_of
from activitylog.errors import ActivityLogError
from activitylog.observability import metrics
from activitylog.wiring import Source


def answering_refusals(handle: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``handle`` with a refusal raised outside the resolver answered as HTTP, counted as RequestsRefused."""

    def answered(event: dict, context: Any) -> Any:
        try:
            return handle(event, context)
        except ActivityLogError as refused:
            status, body, headers = answer_of(refused)
            metrics.add_metric(name="RequestsRefused", unit="Count", value=1)
            return {
                "statusCode": status,
                "headers": {"Content-Type": "application/json", **headers},
                "body": json.dumps(body),
            }

    return answered


HTTP_API = Source("API Gateway HTTP API", correlation_paths.API_GATEWAY_HTTP, around=answering_refusals)
