"""The export worker's steps, as the state machine calls them (``functions/export_worker``).

``step(container().exports, {"step": "begin", "export": state}, context)`` answers the export's next state:
the same fields, its upload, cursor and part count moved on.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from activitylog.exports.service import ExportService
from activitylog.observability import logger, metrics


def step(service: ExportService, event: dict, context: Any) -> dict:
    step, state = event.get("step"), event.get("export") or {}
    logger.append_keys(export_id=state.get("export_id"), org_id=state.get("org"), step=step)
    if step == "begin":
        return service.begin(state)
    if step == "write":
        answer = service.write(state, lambda: context.get_remaining_time_in_millis() / 1000)
        metrics.add_metric(name="ExportRowsWritten", unit=MetricUnit.Count, value=answer["rows"] - state.get("rows", 0))
        return answer
    if step == "complete":
        return service.complete(state)
    if step == "fail":
        metrics.add_metric(name="ExportsFailed", unit=MetricUnit.Count, value=1)
        return service.fail(state)
    raise ValueError(f"unknown export step {step!r}: begin, write, complete or fail")
