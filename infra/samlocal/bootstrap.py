"""One Lambda execution environment: the process that runs a function's handler.

The local runtime starts it as ``python -m samlocal.bootstrap FD`` with the
function's own environment variables and its working folder at the CodeUri, as Lambda
runs ``/var/task``. Over the connection on file descriptor FD it first receives the
function's configuration, then one event at a time, and answers each with the handler's
result or Lambda's error document. It lives as long as the runtime keeps it warm; its
module state (the handler module, its siblings, its layers' packages) is its own.

AWS calls leave it as they would in AWS (same endpoints, URLs and presigned links), and
are forwarded to the local stack's AWS endpoint (moto, and Lambda Invoke answered by the
runtime); DynamoDB goes straight to DynamoDB Local (``AWS_ENDPOINT_URL_DYNAMODB``).
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from samlocal.context import LambdaContext

LOCAL_HOSTS = ("127.0.0.1", "localhost")  # real local servers (DynamoDB Local): not forwarded


def error_document(error: BaseException, error_type: Optional[str] = None) -> dict:
    """Lambda's answer for an unhandled error."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": "",
        # The function's frames, not this runtime's, as Lambda reports them.
        "stackTrace": traceback.format_list([frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__])
        + traceback.format_exception_only(type(error), error),
    }


class _Body(io.BytesIO):
    """A response body botocore can read or stream."""

    def stream(self, **_: Any):
        while chunk := self.read(65536):
            yield chunk


def forward_aws(endpoint: str) -> None:
    """Send every AWS call but local ones to ``endpoint``, keeping its URL and Host as they are.

    A ``before-send`` handler in botocore's built-in list, as moto's own mock installs it:
    every session and client made afterwards gets it.
    """
    import urllib3
    from botocore.awsrequest import AWSResponse
    from botocore.handlers import BUILTIN_HANDLERS

    pool = urllib3.PoolManager(maxsize=16)

    def forward(request, **_: Any):
        parts = urlsplit(request.url)
        if parts.hostname in LOCAL_HOSTS:
            return None
        body = request.body.read() if hasattr(request.body, "read") else request.body
        headers = {**dict(request.headers.items()), "Host": parts.netloc}
        target = f"{endpoint}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        answer = pool.request(request.method, target, body=body, headers=headers, redirect=False, retries=False,
                              preload_content=False)
        data = answer.read(decode_content=False)  # an object stored gzip-encoded stays so, as S3 returns it
        return AWSResponse(request.url, answer.status, dict(answer.headers.items()), _Body(data))

    BUILTIN_HANDLERS.append(("before-send", forward))


def load_handler(handler: str) -> Callable:
    """``app.handler`` or ``folder/app.handler``, imported as Lambda does (the CodeUri is on the path)."""
    module_path, _, attribute = handler.rpartition(".")
    if not module_path:
        raise ValueError(f"Handler {handler!r} must be module.function")
    function = getattr(importlib.import_module(module_path.replace("/", ".")), attribute, None)
    if not callable(function):
        raise AttributeError(f"module {module_path!r} has no function {attribute!r}")
    return function


def main() -> None:
    connection = Connection(int(sys.argv[1]))
    config = json.loads(connection.recv_bytes())
    sys.stdout.reconfigure(line_buffering=True)  # logs reach the terminal line by line, as to CloudWatch
    forward_aws(config["aws_endpoint"])
    if config.get("faults"):
        from samlocal.faults import install

        install(config["faults"], config["name"])
    sys.path[:0] = [config["code_dir"], *config["layers"]]
    handler, init_error = None, None
    try:
        handler = load_handler(config["handler"])
    except Exception as error:  # noqa: BLE001 - an init error is reported on the invocation, as Lambda does
        init_error = error_document(error, "Runtime.ImportModuleError" if isinstance(error, ImportError) else None)
    try:
        connection.send_bytes(b'{"init": "done"}')  # the function's Timeout counts from here (a cold start's init has its own)
    except OSError:
        return
    while True:
        try:
            message = json.loads(connection.recv_bytes())
        except (EOFError, OSError):  # the runtime stopped or went away
            return
        if handler is None:  # Lambda resets an environment whose init failed
            connection.send_bytes(json.dumps({"error": init_error, "fatal": True}).encode())
            return
        context = LambdaContext(config["name"], config["arn"], config["memory"], config["timeout"], message["request_id"])
        try:
            result = json.dumps({"result": handler(message["event"], context)}, default=str)
        except Exception as error:  # noqa: BLE001 - any handler error is the function's error
            result = json.dumps({"error": {**error_document(error), "requestId": message["request_id"]}})
        connection.send_bytes(result.encode())


if __name__ == "__main__":
    main()
