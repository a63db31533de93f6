"""The export worker: each step of a large export's state machine (infra/statemachines/export.asl.json).

The machine invokes it with ``{"step": "begin" | "write" | "complete" | "fail", "export": state}``
and carries on with the state it returns: the position, the upload id and counters, never rows.
"""

from activitylog.exports.worker import step
from activitylog.wiring import STEP_FUNCTIONS, container, entrypoint

lambda_handler = entrypoint(STEP_FUNCTIONS, lambda event, context: step(container().exports, event, context))
