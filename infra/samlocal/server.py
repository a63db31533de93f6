"""The local HTTP server: the API Gateway routes, plus a few ``/_local`` helpers.

Any other GET no route answers is a file of the Activity Logs page (``site``), as the
template's CloudFront distribution serves it in AWS.

``/_local/*`` exists only on this machine (no auth; it listens on 127.0.0.1). A web page must not
drive it (a cross-site form POST, or DNS rebinding a name of its own to 127.0.0.1), so every
``/_local`` request needs this machine's ``Host`` (and ``Origin``, when sent), and every one
that changes something also needs ``X-Activitylog-Local: 1``, a header no simple cross-site
request can carry (``HttpClient`` sends it):

- ``GET  /_local/health``                 the stack is up
- ``GET  /_local/stack``                  tables, buckets, queues, functions, routes, schedules
- ``GET  /_local/outbox``                 emails sent through SES (files under .local/outbox)
- ``GET  /_local/s3/{bucket}/{key}``      an S3 object (export downloads redirect here: a presigned S3 URL has no address locally)
- ``*    /_local/url/{function}/…``       a function URL (``FunctionUrlConfig``), payload v2
- ``POST /_local/run/{function}``         invoke a function now (a scheduled one gets its schedule's event)
- ``POST /_local/events``                 EventBridge PutEvents (body: ``{"Entries": [...]}``)
- ``POST /_local/queues/{queue}/messages`` SQS SendMessage (body: ``{"body": "...", ...}``)
- ``GET  /_local/queues/{queue}``         visible and in-flight message counts
- ``POST /_local/queues/{queue}/redrive`` move a dead-letter queue's messages back to the queue it serves
  (``POST /_local/redrive``: every dead-letter queue's)
- ``POST /_local/faults``                 make DynamoDB refuse a function's next calls (``faults.py``);
  ``GET`` lists what is armed, ``DELETE`` disarms
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Optional, Protocol
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from samlocal.dynamodb import SetupError
from samlocal.gateway import FUNCTION_URL_PREFIX, HttpResponse, json_response
from samlocal.intrinsics import REGION
from samlocal.lambdas import FunctionError
from samlocal.outbox import local_twin



class LocalStack(Protocol):
    """What the server asks of the stack it serves (``samlocal.stack.LocalStack``): the arrow runs stack -> server only."""

    url: str
    options: Any
    gateway: Any
    site: Any
    outbox: Any
    scheduler: Any
    runtime: Any
    faults: Any

    def describe(self) -> dict: ...

    def queue_url(self, name: str) -> str: ...

    def redrive(self, name: Optional[str] = None) -> dict: ...

log = logging.getLogger("samlocal.http")
access = logging.getLogger("samlocal.access")  # one line per request: method, path, status, ms


class _Quiet(WSGIRequestHandler):
    """werkzeug's handler; the access line is ours (with the time taken), and errors go to our log."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        log.log(logging.ERROR if type == "error" else logging.INFO, message, *args)


class _Response(Response):
    default_mimetype = None  # the gateway's headers are the whole answer: no text/plain added to a 204


def application(stack: "LocalStack"):
    """The WSGI app: every request becomes the gateway's (or a ``/_local`` helper's) answer."""

    @Request.application
    def app(request: Request) -> Response:
        started = time.monotonic()
        target = request.environ.get("RAW_URI") or request.full_path  # still percent-encoded, as API Gateway sees it
        try:
            answer = _answer(stack, request, target)
        except Exception:  # noqa: BLE001 - a bug here must answer 500, not drop the connection
            log.exception("%s %s failed in the local gateway", request.method, target)
            answer = json_response(500, {"message": "Internal Server Error"})
        access.info("%s %s %d %.0f ms", request.method, target, answer.status, (time.monotonic() - started) * 1000)
        return _Response(answer.body, status=answer.status, headers=_local_redirects(stack, answer.headers))

    return app


def _local_redirects(stack: "LocalStack", headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A redirect to an S3 URL (an export's presigned download) goes to its local twin: moto's S3 has no address here."""
    return [(name, (local_twin(value, stack.url) or value) if name.lower() == "location" else value) for name, value in headers]


def _answer(stack: "LocalStack", request: Request, target: str) -> HttpResponse:
    body = request.get_data()
    headers = list(request.headers.items())
    source_ip = request.remote_addr or "127.0.0.1"
    if stack.gateway is None:
        return json_response(503, {"message": "the local stack is starting"})
    if target.startswith(FUNCTION_URL_PREFIX):
        return stack.gateway.handle_function_url(request.method, target, headers, body, source_ip)
    if target.startswith("/_local/") or target == "/_local":
        return _foreign(stack, request) or local_endpoint(stack, request.method, target, body)
    if stack.site and request.method in ("GET", "HEAD") and stack.gateway.route_for(request.method, target) is None:
        return stack.site.answer(request.method, target)  # the page, as the distribution serves it from its bucket
    return stack.gateway.handle(request.method, target, headers, body, source_ip)


LOCAL_HEADER = "X-Activitylog-Local"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _foreign(stack: "LocalStack", request: Request) -> Optional[HttpResponse]:
    """A 403 for a ``/_local`` request a web page could have made, else None."""
    port = stack.url.rsplit(":", 1)[1]
    hosts = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]", stack.options.host)}
    host = request.headers.get("Host", "").lower()
    if host not in hosts:
        return json_response(403, {"message": f"/_local answers requests to this machine only (Host {host!r}); "
                                              f"use http://127.0.0.1:{port}"})
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() not in {f"http://{name}" for name in hosts}:
        return json_response(403, {"message": f"/_local answers no web page of another origin ({origin!r})"})
    if request.method not in SAFE_METHODS and request.headers.get(LOCAL_HEADER) != "1":
        return json_response(403, {"message": f"a {request.method} to /_local needs the header {LOCAL_HEADER}: 1 "
                                              "(the activitylog command and HttpClient send it)"})
    return None


def serve(stack: "LocalStack", host: str, port: int) -> BaseWSGIServer:
    try:
        server = make_server(host, port, application(stack), threaded=True, request_handler=_Quiet)
    except SystemExit:  # werkzeug exits when it cannot bind (it has printed why)
        raise SetupError(f"cannot listen on {host}:{port}: stop what runs there or choose another with --port") from None
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
        if len(parts) == 3 and parts[0] == "queues" and parts[2] == "redrive" and method == "POST":
            return json_response(200, stack.redrive(parts[1]))
        if parts == ["redrive"] and method == "POST":
            return json_response(200, stack.redrive())
        if parts == ["faults"]:
            if method == "POST":
                plan = dict(document or {})
                if plan.get("function"):
                    plan["function"] = stack.runtime.find(plan["function"]).name
                try:
                    return json_response(201, stack.faults.arm(plan))
                except ValueError as error:
                    return json_response(400, {"message": str(error)})
            if method == "DELETE":
                stack.faults.clear()
                return json_response(200, {"plans": []})
            return json_response(200, {"plans": stack.faults.plans()})
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
