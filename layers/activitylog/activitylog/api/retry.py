"""POST /activities/{id}/retry: run a FAILED or WARNING job again (``activitylog.jobs.retry``).

No body. The caller (a dashboard user with ``activity:retry``) is recorded as the one who
retried; the answer (202) names the "Retried …" entry and the new run's entry id, which
appears once the job handler starts it.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.api.common import caller, idempotency, publisher, service
from activitylog.observability import metrics
from activitylog.responses import responses
from activitylog.tracecontext import header_value


def routes() -> Router:
    router = Router()

    @router.post(
        "/activities/<id>/retry",
        summary="Run a failed job (or outgoing webhook) again, linked to the original",
        responses=responses(
            {202: ("The retry was asked for (or, pressed again shortly, the first retry)", "RetryAccepted")},
            400,
            401,
            403,
            404,
            409,
            503,
        ),
    )
    def retry_activity(id: str):  # noqa: A002 - the route's own name
        from activitylog.jobs.retry import retry

        event = router.current_event
        traceparent = header_value(event.headers)
        answer = retry(service(), caller(event), id, router.lambda_context, publisher(), idempotency, traceparent)
        metrics.add_metric(name="JobsRetried", unit=MetricUnit.Count, value=1)
        return Response(202, "application/json", json.dumps(answer))

    return router
