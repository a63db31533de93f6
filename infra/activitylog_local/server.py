"""The local HTTP server: the API Gateway routes, plus a few ``/_local`` helpers.

``/_local/*`` exists only on this machine (no auth; it listens on 127.0.0.1):

- ``GET  /_local/health``                 the stack is up
- ``GET  /_local/stack``                  tables, buckets, queues, functions, routes, schedules
- ``GET  /_local/outbox``                 emails sent through SES (files under .local/outbox)
- ``GET  /_local/s3/{bucket}/{key}``      an S3 object (emailed export links point here locally)
- ``*    /_local/url/{function}/…``       a function URL (``FunctionUrlConfig``), payload v2
- ``POST /_local/run/{function}``         invoke a function now (a scheduled one gets its schedule's event)
- ``POST /_local/events``                 EventBridge PutEvents (body: ``{"Entries": [...]}``)
- ``POST /_local/queues/{queue}/messages`` SQS SendMessage (body: ``{"body": "...", ...}``)
- ``GET  /_local/queues/{queue}``         visible and in-flight message counts
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from activitylog_local.dynamodb import SetupError
from activitylog_local.gateway import FUNCTION_URL_PREFIX, HttpResponse, json_response
from activitylog_local.intrinsics import REGION
from activitylog_local.lambdas import FunctionError

if TYPE_CHECKING:
    from activitylog_local.stack import LocalStack

log = logging.getLogger("activitylog_local.http")
access = logging.getLogger("activitylog_local.access")  # one line per request: method, path, status, ms


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(stack: "LocalStack", host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "activitylog-local"

        def _handle(self) -> None:
            started = time.monotonic()
            try:
                response = self._answer()
            except Exception:  # noqa: BLE001 - a bug here must not drop the connection silently
                log.exception("%s %s failed in the local gateway", self.command, self.path)
                response = json_response(500, {"message": "Internal Server Error"})
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            access.info("%s %s %d %.0f ms", self.command, self.path, response.status, (time.monotonic() - started) * 1000)

        def _answer(self) -> HttpResponse:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if stack.gateway is None:
                response = json_response(503, {"message": "the local stack is starting"})
            elif self.path.startswith(FUNCTION_URL_PREFIX):
                response = stack.gateway.handle_function_url(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
            elif self.path.startswith("/_local/") or self.path == "/_local":
                response = local_endpoint(stack, self.command, self.path, body)
            else:
                response = stack.gateway.handle(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
            return response

        def __getattr__(self, name: str) -> Any:
            # Every method (TRACE, QUERY, …) reaches the gateway, which answers an unrouted one 404
            # as API Gateway does; http.server would answer it itself with an HTML 501.
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            pass  # the access line above says it, with the time taken

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    try:
        server = _Server((host, port), Handler)
    except OSError as error:
        raise SetupError(f"cannot listen on {host}:{port} ({error.strerror}): stop what runs there or choose another with --port") from None
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def local_endpoint(stack: "LocalStack", method: str, target: str, body: bytes) -> HttpResponse:
    import boto3

    path = target.split("?", 1)[0].rstrip("/")
    parts = [unquote(p) for p in path.split("/")[2:]]
    try:
        document = json.loads(body) if body else None
    except ValueError:
        return json_response(400, {"message": "body is not valid JSON"})
    try:
        if parts == ["health"]:
            return json_response(200, {"status": "ok"})
        if parts == ["stack"] and method == "GET":
            return json_response(200, stack.describe())
        if parts == ["outbox"] and method == "GET":
            return json_response(200, {"messages": stack.outbox.sync(stack.url)})
        if len(parts) >= 3 and parts[0] == "s3" and method == "GET":  # an emailed S3 link, opened locally
            from urllib.parse import unquote as _unquote

            key = _unquote("/".join(target.split("?", 1)[0].split("/")[4:]))
            try:
                obj = boto3.client("s3", region_name=REGION).get_object(Bucket=parts[1], Key=key)
            except boto3.client("s3", region_name=REGION).exceptions.ClientError:
                return json_response(404, {"message": f"no object s3://{parts[1]}/{key}"})
            headers = [("content-type", obj.get("ContentType") or "application/octet-stream")]
            if obj.get("ContentDisposition"):
                headers.append(("content-disposition", obj["ContentDisposition"]))
            return HttpResponse(200, headers, obj["Body"].read())
        if len(parts) == 2 and parts[0] == "run" and method == "POST":
            result = stack.scheduler.run_now(parts[1], document)
            return json_response(200, {"function": stack.runtime.find(parts[1]).logical_id, "result": result})
        if parts == ["events"] and method == "POST":
            entries = (document or {}).get("Entries") or []
            answer = boto3.client("events", region_name=REGION).put_events(Entries=entries)
            return json_response(200, {"FailedEntryCount": answer["FailedEntryCount"], "Entries": answer["Entries"]})
        if len(parts) == 3 and parts[0] == "queues" and parts[2] == "messages" and method == "POST":
            url = stack.queue_url(parts[1])
            message = {"QueueUrl": url, "MessageBody": (document or {}).get("body", "")}
            for key in ("MessageGroupId", "MessageDeduplicationId", "DelaySeconds"):
                if key in (document or {}):
                    message[key] = document[key]
            answer = boto3.client("sqs", region_name=REGION).send_message(**message)
            return json_response(201, {"MessageId": answer["MessageId"]})
        if len(parts) == 2 and parts[0] == "queues" and method == "GET":
            url = stack.queue_url(parts[1])
            attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            return json_response(200, {
                "url": url,
                "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            })
    except KeyError as error:
        return json_response(404, {"message": str(error).strip("'\"")})
    except FunctionError as error:
        return json_response(500, {"message": error.document["errorMessage"], "error": error.document})
    return json_response(404, {"message": f"no local endpoint {method} {path}"})
