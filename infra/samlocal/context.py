"""The ``context`` a handler gets: Lambda's attributes, with a real deadline.

Hand-written, not Powertools' ``LambdaContext``: that one is a type with no constructor and
no clock, and an execution environment must not import Powertools ahead of the function's
own layers. Tests build it with no arguments; the runtime names the function and its limits.

>>> LambdaContext().get_remaining_time_in_millis() > 0
True
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Optional

from samlocal.intrinsics import ACCOUNT, REGION


class LambdaContext:
    def __init__(self, name: str = "function", arn: Optional[str] = None, memory: int = 128, timeout: float = 3,
                 request_id: Optional[str] = None) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn or f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        self.memory_limit_in_mb = str(memory)  # a string, as Lambda's Python runtime gives it
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
