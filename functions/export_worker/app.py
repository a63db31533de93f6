"""The export worker: each step of a large export's state machine (infra/statemachines/export.asl.json).

The machine invokes it with ``{"step": "begin" | "write" | "complete" | "fail", "export": state}``
and carries on with the state it returns: the position, the upload id and counters, never rows.
"""

from activitylog.exports.worker import handle

lambda_handler = handle
