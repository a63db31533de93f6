"""Lambda functions, found through template.yaml, run in execution environments as Lambda runs them.

Each ``AWS::Serverless::Function`` becomes a ``FunctionSpec`` (Handler, CodeUri, Layers,
Timeout, concurrency, environment from Globals plus the function). An invocation runs in
one of the function's execution environments (``environments``): a process of its own
with the function's variables and module state, reused while warm. Concurrent invocations
run in parallel, each in its own environment, up to the function's
``ReservedConcurrentExecutions`` (else the stack's default); past it they wait.

>>> runtime = LambdaRuntime(specs, aws_endpoint=endpoint.url)
>>> runtime.invoke("QueryFunction", event)
{'statusCode': 200, ...}
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Optional

from samlocal.environments import EnvironmentGone, EnvironmentPool, EnvironmentTimedOut, ExecutionEnvironment
from samlocal.intrinsics import ACCOUNT, REGION

log = logging.getLogger("samlocal.lambda")


# Variables a function still sees from the process: AWS settings (endpoint, credentials,
# region), the interpreter's and the system's own, moto's, and pytest's bookkeeping.
PROCESS_ENVIRONMENT = ("AWS_", "PATH", "HOME", "LANG", "LC_", "TZ", "TMP", "TEMP", "PYTHON", "VIRTUAL_ENV", "SSL_CERT",
                       "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "MOTO_", "TEST_SERVER_MODE", "PYTEST_", "JAVA_HOME", "LD_", "OPENBLAS_")
DEFAULT_CONCURRENCY = 4  # environments per function when the template reserves none: parallel enough to show races
WAIT_FOR_ENVIRONMENT = 60  # seconds an invocation waits past the limit; then it is throttled (a function calling itself)


@dataclass
class FunctionSpec:
    logical_id: str
    name: str  # the physical FunctionName
    code_dir: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    layers: list[Path] = field(default_factory=list)
    timeout: int = 3
    memory: int = 128
    events: dict[str, dict] = field(default_factory=dict)  # resolved SAM Events
    reserved_concurrency: Optional[int] = None  # ReservedConcurrentExecutions

    @property
    def arn(self) -> str:
        return function_arn(self.name)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


class FunctionError(Exception):
    """The function failed (its handler raised, its init failed, its process died): carries Lambda's error document."""

    def __init__(self, function: str, document: dict) -> None:
        super().__init__(f"{function}: {document.get('errorType')}: {document.get('errorMessage')}")
        self.function = function
        self.document = document


class LambdaRuntime:
    """The functions of one template, invoked by logical id, name or ARN."""

    def __init__(self, specs: list[FunctionSpec], base_environment: Optional[dict[str, str]] = None,
                 aws_endpoint: str = "", concurrency: int = DEFAULT_CONCURRENCY, faults: Optional[Path] = None) -> None:
        self.specs = {spec.logical_id: spec for spec in specs}
        self._by_name = {spec.name: spec for spec in specs}
        self.base_environment = dict(base_environment or {})
        self.aws_endpoint = aws_endpoint  # where environments send AWS calls other than DynamoDB's (endpoint.AwsEndpoint)
        self.faults = faults  # the DynamoDB fault plans environments consult (faults.py)
        self.pools = {spec.logical_id: EnvironmentPool(partial(self._start, spec), spec.reserved_concurrency or concurrency)
                      for spec in specs}

    def find(self, name: str) -> FunctionSpec:
        """A function by logical id, physical name or ARN (with or without a qualifier)."""
        key = name
        if key.startswith("arn:"):
            key = key.split(":function:", 1)[-1]
        key = key.split(":", 1)[0]
        spec = self.specs.get(key) or self._by_name.get(key)
        if spec is None:
            known = ", ".join(sorted(self.specs)) or "none"
            raise KeyError(f"no function {name!r} in the template (functions: {known})")
        return spec

    def invoke(self, name: str, event: Any) -> Any:
        """Run the function's handler on ``event`` in one of its environments and return what it returns.

        Raises ``FunctionError`` when the handler raises, like a Lambda "Unhandled" error, and when it runs past
        the function's Timeout: then, as Lambda does, its environment is ended and the error is ``Sandbox.Timedout``.
        """
        spec = self.find(name)
        request_id = str(uuid.uuid4())
        try:
            with self.pools[spec.logical_id].environment(WAIT_FOR_ENVIRONMENT) as environment:
                answer = environment.invoke(event, request_id, timeout=spec.timeout)
        except TimeoutError as error:
            raise FunctionError(spec.logical_id, {"errorType": "TooManyRequestsException", "errorMessage": f"Rate Exceeded: {error}",
                                                  "requestId": request_id, "stackTrace": []}) from None
        except EnvironmentTimedOut as error:  # Lambda's own words for it
            log.warning("%s: RequestId: %s %s (its environment was ended)", spec.logical_id, request_id, error)
            raise FunctionError(spec.logical_id, {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {error}",
                                                  "requestId": request_id, "stackTrace": []}) from None
        except EnvironmentGone as error:
            raise FunctionError(spec.logical_id, {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {error}",
                                                  "requestId": request_id, "stackTrace": []}) from None
        if "error" in answer:
            raise FunctionError(spec.logical_id, answer["error"])
        return answer["result"]

    def invoke_payload(self, name: str, payload: bytes) -> tuple[bytes, Optional[str]]:
        """Invoke as the Lambda API does: JSON bytes in, JSON bytes and FunctionError out."""
        event = json.loads(payload.decode() or "null") if payload else {}
        try:
            result = self.invoke(name, event)
        except FunctionError as error:
            log.error("%s failed: %s", error.function, error.document["errorMessage"])
            return json.dumps(error.document).encode(), "Unhandled"
        return json.dumps(result).encode(), None

    def stop(self) -> None:
        """End every environment (their processes exit)."""
        for pool in self.pools.values():
            pool.stop()

    # --- environments -----------------------------------------------------------------

    def environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The variables Lambda sets, then the template's (Globals merged with the function's)."""
        return {
            **self.base_environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            **spec.environment,
        }

    def _start(self, spec: FunctionSpec) -> ExecutionEnvironment:
        # A function sees its template's variables, not the developer's shell; what the process
        # needs to reach DynamoDB Local (and to run Python at all) it keeps.
        variables = {key: value for key, value in os.environ.items() if key.startswith(PROCESS_ENVIRONMENT)}
        config = {"name": spec.name, "arn": spec.arn, "handler": spec.handler, "code_dir": str(spec.code_dir),
                  "layers": [str(path) for path in spec.layers], "memory": spec.memory, "timeout": spec.timeout,
                  "aws_endpoint": self.aws_endpoint, "faults": str(self.faults) if self.faults else None}
        log.info("%s: starting an execution environment (cold start)", spec.logical_id)
        return ExecutionEnvironment({**variables, **self.environment(spec)}, config, spec.code_dir)


def streaming_body(data: bytes):
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))
