"""Powertools Logger (JSON, correlation id), Metrics (EMF) and Tracer, one instance each per process.

The Tracer is built only where tracing is on (in Lambda with ``Tracing: Active``):
Powertools' Tracer imports the X-Ray SDK even when disabled, which costs ~100-170 ms of
cold start for nothing where no X-Ray daemon listens (tests, the local stack).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="activity-log")
metrics = Metrics(namespace="ActivityLog", service="activity-log")
# A request that records no metric (the OpenAPI document, an unknown route) is normal here;
# this is Powertools' documented filter for its warning about an empty flush.
warnings.filterwarnings("ignore", "No application metrics to publish")


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes", "on")
    return not disabled and bool(os.environ.get("LAMBDA_TASK_ROOT"))


def traced(handler: Callable) -> Callable:
    """``Tracer.capture_lambda_handler`` where tracing is on; the handler unchanged where it is off."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer(service="activity-log").capture_lambda_handler(handler)


def job_entrypoint(build: Callable[[], Any], handle: Callable[[Any, Any], dict], data_class: Any = None) -> Callable[[dict, Any], dict]:
    """A non-API function's ``lambda_handler``: logs with the invocation's context, traces, flushes
    metrics; ``build()`` once per execution environment, then ``handle(built, event)`` (the event
    wrapped in Powertools' ``data_class`` when given, e.g. ``DynamoDBStreamEvent``).

    >>> lambda_handler = job_entrypoint(Archiver.from_environment, archive_batch, DynamoDBStreamEvent)
    """
    built: list = []

    @logger.inject_lambda_context(clear_state=True)
    @traced
    @metrics.log_metrics
    def lambda_handler(event: dict, context: Any) -> dict:
        if not built:
            built.append(build())
        return handle(built[0], data_class(event) if data_class else (event or {}))

    lambda_handler.reset = built.clear  # tests point the environment elsewhere
    return lambda_handler
