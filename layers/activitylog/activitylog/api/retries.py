"""POST /retries, GET /retries, GET /retries/{id}, POST /retries/{id}/cancel: bulk retry (``activitylog.jobs.bulk``).

``POST /retries`` takes ``{"filters": {…the list's keys…}, "name": …, "confirm": false}``: without
``confirm`` it answers the preview (200), with it it starts the bulk retry (202, ``Location`` its progress).
"""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.api.common import caller
from activitylog.observability import metrics
from activitylog.responses import responses
from activitylog.wiring import container


def routes() -> Router:
    """A router with the bulk retry routes (a new one per resolver)."""
    router = Router()

    @router.post(
        "/retries",
        summary="Retry every retryable failure a filter selects: a preview, then (confirm) a background job",
        description="Body {filters, name, confirm}. filters must select on at least one of the list's axes; its window "
        "is frozen when asked (a relative from such as 24h too). Without confirm: how many entries match, how many "
        "can be retried, and why the rest cannot. With confirm: the bulk retry, running (GET /retries/{id}).",
        responses=responses(
            {200: ("The preview: nothing was retried", "BulkRetryPreview"), 202: ("Started", "BulkRetry")},
            400,
            401,
            403,
            413,
            415,
            503,
        ),
    )
    def request_bulk_retry():
        status, answer = container().bulk_retries.request(caller(router.current_event), router.current_event.json_body)
        if status == 200:
            return Response(200, "application/json", json.dumps(answer))
        metrics.add_metric(name="BulkRetriesStarted", unit=MetricUnit.Count, value=1)
        return Response(202, "application/json", json.dumps(answer), headers={"Location": f"/retries/{answer['id']}"})

    @router.get(
        "/retries",
        summary="The org's bulk retries, newest first",
        responses=responses({200: ("The bulk retries", "BulkRetryList")}, 401, 403, 503),
    )
    def list_bulk_retries():
        return container().bulk_retries.listing(caller(router.current_event))

    @router.get(
        "/retries/<id>",
        summary="A bulk retry's progress: matched, started, skipped with reasons, failed, status",
        responses=responses({200: ("The bulk retry", "BulkRetry")}, 400, 401, 403, 404, 503),
    )
    def bulk_retry_status(id: str):  # noqa: A002 - the route's own name
        return container().bulk_retries.status(caller(router.current_event), id)

    @router.post(
        "/retries/<id>/cancel",
        summary="Cancel a bulk retry: nothing more is retried (originals already started finish)",
        responses=responses({200: ("The bulk retry, CANCELLED", "BulkRetry")}, 400, 401, 403, 404, 409, 503),
    )
    def cancel_bulk_retry(id: str):  # noqa: A002 - the route's own name
        return container().bulk_retries.cancel(caller(router.current_event), id)

    return router
