"""The demo job handler: runs the jobs asked for on the platform bus (RetryRequested, JobRequested).

A stand-in for the platform's own job workers, so a retry runs end to end on this stack:
each run is logged with the activity client, in the asker's chain, with ``retry_of`` when
it is a retry. A stock sync reports progress and sends an outgoing webhook (to show the
chain); ``params.fail`` makes a run fail with that message, ``params.warn`` end WARNING.
"""

from activitylog.jobs.client import ActivityClient, Publisher
from activitylog.jobs.events import RunRequest
from activitylog.jobtypes import SEND_WEBHOOK
from activitylog.observability import logger
from activitylog.wiring import EVENTBRIDGE, container, entrypoint

WOO = {"type": "integration", "id": "int_woo", "label": "WooCommerce"}


def run(event: dict, publisher: Publisher) -> dict:
    request = RunRequest.from_event(event)
    activity = ActivityClient(request.org_id, correlation_id=request.correlation_id, traceparent=request.traceparent,
                              publisher=publisher)
    if request.job == SEND_WEBHOOK:  # an outgoing webhook sent again
        target = request.entity or {"type": "integration", "id": "unknown", "label": "integration"}
        activity.webhook_sent(request.params.get("topic", "webhook"), target, url=request.params.get("url", "https://example.com/"),
                              method=request.params.get("method", "POST"), body=request.params.get("body"),
                              response_status=200, duration_ms=120, retry_of=request.retry_of, entry_id=request.run_id)
        return {"run_id": request.run_id}
    try:
        _run(activity, request)
    except Exception:  # the run is logged FAILED with its stack trace; asking again would run it again
        logger.exception("demo job failed", extra={"run_id": request.run_id})
    return {"run_id": request.run_id, "events_waiting": activity.flush()}


lambda_handler = entrypoint(EVENTBRIDGE, lambda event, context: run(event, container().publisher))


def _run(activity: ActivityClient, request: RunRequest) -> None:
    params, total = request.params, int(request.params.get("total", 120))
    with activity.job(request.job, entity=request.entity, params=params, retry_of=request.retry_of,
                      run_id=request.run_id) as job:
        for step in (1, 2, 3):
            job.progress(processed=total * step // 3, total=total)
            if params.get("fail") and step == 2:
                raise RuntimeError(params["fail"])
        if request.job == "SYNC_SQUARE_STOCK":
            activity.webhook_sent("inventory.updated", WOO, url="https://hooks.example.com/int_woo", response_status=200,
                                  duration_ms=180)
        if params.get("warn"):
            job.warn(str(params["warn"]))
