"""Lambda functions invoked in-process, found through template.yaml.

Each ``AWS::Serverless::Function`` becomes a ``FunctionSpec`` (Handler, CodeUri,
Layers, Timeout, environment from Globals plus the function). The handler module is
loaded by file path under a private name, so two functions' ``app.py`` never collide;
its sibling modules and its layers' packages are its own copies, kept apart between
invocations, as each function has its own process in Lambda.

One invocation runs at a time: the function's environment variables are process-wide
while it runs, as they would be in its own sandbox.

>>> runtime = LambdaRuntime(specs)
>>> runtime.invoke("ApiFunction", event)
{'statusCode': 200, ...}
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Optional

from activitylog_local.intrinsics import ACCOUNT, REGION

log = logging.getLogger("activitylog_local.lambda")


# Variables a function still sees from the process: AWS settings (endpoint, credentials,
# region), the interpreter's and the system's own, moto's, and pytest's bookkeeping.
PROCESS_ENVIRONMENT = ("AWS_", "PATH", "HOME", "LANG", "LC_", "TZ", "TMP", "TEMP", "PYTHON", "VIRTUAL_ENV", "SSL_CERT",
                       "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "MOTO_", "TEST_SERVER_MODE", "PYTEST_", "JAVA_HOME", "LD_", "OPENBLAS_")


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

    @property
    def arn(self) -> str:
        return function_arn(self.name)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


class FunctionError(Exception):
    """The handler raised: carries Lambda's error document."""

    def __init__(self, function: str, error: BaseException) -> None:
        super().__init__(f"{function}: {type(error).__name__}: {error}")
        self.function = function
        self.error = error
        self.document = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": "",
            "stackTrace": traceback.format_exception(type(error), error, error.__traceback__)[1:],
        }


class LambdaContext:
    """The ``context`` argument, with the attributes Powertools and handlers read."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = str(spec.memory)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaRuntime:
    """The functions of one template, invoked by logical id, name or ARN."""

    # Reentrant: a function may invoke another synchronously (Lambda Invoke).
    _lock = threading.RLock()

    def __init__(self, specs: list[FunctionSpec], base_environment: Optional[dict[str, str]] = None) -> None:
        self.specs = {spec.logical_id: spec for spec in specs}
        self._by_name = {spec.name: spec for spec in specs}
        self._handlers: dict[str, Callable] = {}
        # Each function's own modules (its handler, CodeUri siblings, and its layers' packages),
        # kept out of sys.modules between its invocations: as in Lambda, where every function
        # has its own process, a module-level cache of one function never serves another.
        self._private: dict[str, dict[str, ModuleType]] = {}
        self._owned_names: set[str] = set()
        self._scanned: set[str] = set()
        self.base_environment = dict(base_environment or {})
        self.invocations: list[tuple[str, float, Optional[str]]] = []  # (function, seconds, error type)

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
        """Run the function's handler on ``event`` and return what it returns.

        Raises ``FunctionError`` when the handler raises, like a Lambda "Unhandled" error.
        """
        spec = self.find(name)
        with self._lock, self._sandbox(spec):
            handler = self._load(spec)
            context = LambdaContext(spec)
            started = time.monotonic()
            try:
                result = handler(event, context)
            except Exception as error:  # noqa: BLE001 - any handler error is the function's error
                self.invocations.append((spec.logical_id, time.monotonic() - started, type(error).__name__))
                raise FunctionError(spec.logical_id, error) from error
            elapsed = time.monotonic() - started
            self.invocations.append((spec.logical_id, elapsed, None))
            if elapsed > spec.timeout:
                log.warning("%s ran %.1f s, past its %d s timeout (AWS would have stopped it)", spec.logical_id, elapsed, spec.timeout)
            return _json_round_trip(result)

    def invoke_payload(self, name: str, payload: bytes) -> tuple[bytes, Optional[str]]:
        """Invoke as the Lambda API does: JSON bytes in, JSON bytes and FunctionError out."""
        event = json.loads(payload.decode() or "null") if payload else {}
        try:
            result = self.invoke(name, event)
        except FunctionError as error:
            log.error("%s failed: %s", error.function, error.document["errorMessage"])
            return json.dumps(error.document).encode(), "Unhandled"
        return json.dumps(result).encode(), None

    # --- sandbox ----------------------------------------------------------------------

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

    @contextmanager
    def _sandbox(self, spec: FunctionSpec) -> Iterator[None]:
        overrides = self.environment(spec)
        # A function sees its template's variables, not the developer's shell: hide the rest
        # (but what the process itself needs to reach DynamoDB Local and moto stays).
        hidden = {key: value for key, value in os.environ.items() if key not in overrides and not key.startswith(PROCESS_ENVIRONMENT)}
        for key in hidden:
            os.environ.pop(key, None)
        saved = {key: os.environ.get(key) for key in overrides}
        os.environ.update(overrides)
        paths = [str(spec.code_dir)] + [str(p) for p in spec.layers]
        sys.path[:0] = paths
        roots = self._roots(spec)
        if spec.logical_id not in self._scanned:  # modules the host process already took from these folders
            self._owned_names.update(name for name, module in list(sys.modules.items()) if _from(module, roots))
            self._scanned.add(spec.logical_id)
        stash = {name: sys.modules.pop(name) for name in list(self._owned_names) if name in sys.modules}
        private = self._private.setdefault(spec.logical_id, {})
        sys.modules.update(private)
        before = set(sys.modules)
        try:
            yield
        finally:
            for name in set(sys.modules) - before:
                module = sys.modules[name]
                if _from(module, roots) or name.startswith(f"_local_lambda_{spec.logical_id}"):
                    private[name] = module
                    self._owned_names.add(name)
            for name, module in private.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
            sys.modules.update(stash)
            for path in paths:
                try:
                    sys.path.remove(path)
                except ValueError:
                    pass
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            os.environ.update(hidden)

    @staticmethod
    def _roots(spec: FunctionSpec) -> tuple[str, ...]:
        return tuple(str(path.resolve()) + os.sep for path in [spec.code_dir, *spec.layers])

    def _load(self, spec: FunctionSpec) -> Callable:
        """The handler, its module executed on first use (inside the function's sandbox)."""
        handler = self._handlers.get(spec.logical_id)
        if handler:
            return handler
        module_path, _, attribute = spec.handler.rpartition(".")
        if not module_path:
            raise FunctionError(spec.logical_id, ValueError(f"Handler {spec.handler!r} must be module.function"))
        relative = Path(*module_path.split("/")) if "/" in module_path else Path(*module_path.split("."))
        file = spec.code_dir / relative.with_suffix(".py")
        if not file.exists():
            raise FunctionError(spec.logical_id, FileNotFoundError(f"{file} (from CodeUri + Handler) does not exist"))
        private_name = f"_local_lambda_{spec.logical_id}"  # never "app": two functions' app.py must not collide
        before = set(sys.modules)
        module_spec = importlib.util.spec_from_file_location(private_name, file)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[private_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:
            for name in set(sys.modules) - before:  # a failed init leaves nothing half-imported behind
                sys.modules.pop(name, None)
            raise FunctionError(spec.logical_id, error) from error
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise FunctionError(spec.logical_id, AttributeError(f"{file} has no function {attribute!r}"))
        self._handlers[spec.logical_id] = handler
        return handler


def _from(module: Any, roots: tuple[str, ...]) -> bool:
    origin = getattr(module, "__file__", None)
    if not origin:
        return False
    try:
        return str(Path(origin).resolve()).startswith(roots)
    except OSError:
        return False


def _json_round_trip(result: Any) -> Any:
    """What the caller gets is the JSON the function returned, as in Lambda."""
    if result is None:
        return None
    return json.loads(json.dumps(result, default=str))


def streaming_body(data: bytes):
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))
