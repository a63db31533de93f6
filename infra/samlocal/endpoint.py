"""The AWS endpoint that execution environments call: moto's server on this process's state.

Functions run in their own processes (``environments``), but S3, SES, SQS, EventBridge,
Step Functions and Secrets Manager live in the stack's process under ``mock_aws``. moto's
server application (what ``ThreadedMotoServer`` runs) serves the same in-memory backends as
the decorator, so an environment's S3 object is the stack's S3 object. Lambda Invoke is the
exception: moto would try to run the function in Docker, so it is answered here by the
stack's runtime, with the Lambda API's own shape.

>>> endpoint = AwsEndpoint(lambda_invoke).start()
>>> endpoint.url
'http://127.0.0.1:40123'
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Callable, Optional

log = logging.getLogger("samlocal.endpoint")

INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

# (function name or ARN, invocation type, payload) -> (HTTP status, headers, body)
LambdaInvoke = Callable[[str, str, bytes], "tuple[int, dict[str, str], bytes]"]


class AwsEndpoint:
    def __init__(self, lambda_invoke: LambdaInvoke) -> None:
        self.lambda_invoke = lambda_invoke
        self._server: Optional[Any] = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "AwsEndpoint":
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class Handler(MotoRequestHandler):
            def log_request(self, code: Any = "-", size: Any = "-") -> None:  # not werkzeug's line per request
                log.debug("%s %s", self.requestline, code)

        moto = DomainDispatcherApplication(create_backend_app)

        def application(environ: dict, start_response: Callable) -> Any:
            match = INVOKE.match(environ.get("PATH_INFO", ""))
            if match and environ.get("HTTP_HOST", "").startswith("lambda."):
                return self._invoke(match["name"], environ, start_response)
            return moto(environ, start_response)

        self._server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=Handler)
        threading.Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True).start()
        return self

    def _invoke(self, name: str, environ: dict, start_response: Callable) -> list[bytes]:
        from werkzeug.wrappers import Request

        request = Request(environ)
        status, headers, body = self.lambda_invoke(name, request.headers.get("X-Amz-Invocation-Type", "RequestResponse"), request.get_data())
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", [*headers.items(), ("Content-Length", str(len(body)))])
        return [body]

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
