"""The bulk retry worker: each step of a bulk retry's state machine (infra/statemachines/bulk_retry.asl.json).

The machine invokes it with ``{"step": "page" | "retry" | "finish" | "fail", "bulk": state}``: ``page``
answers the next ids, ``retry`` retries one original as its Retry button would (activitylog.jobs.bulk).
"""

from activitylog.wiring import STEP_FUNCTIONS, container, entrypoint

STEPS = {
    "page": lambda bulk, state, context: bulk.page(state),
    "retry": lambda bulk, state, context: bulk.retry_one(state, context),
    "finish": lambda bulk, state, context: bulk.finish(state),
    "fail": lambda bulk, state, context: bulk.fail(state),
}


def handle(event: dict, context: object) -> dict:
    return STEPS[event["step"]](container().bulk_retries, event["bulk"], context)


lambda_handler = entrypoint(STEP_FUNCTIONS, handle)
