"""API Gateway HTTP API, locally: template routes, the JWT authorizer, payload v2 events.

``Gateway.handle`` takes one HTTP request and answers it the way the deployed API
would: route by the OpenAPI body SAM's transform makes of the ``HttpApi`` (most specific path wins), run the
authorizer, build the payload-format-2.0 event, invoke the function (in one of its execution environments) and
turn its result into the HTTP answer (including the "no statusCode means a 200 JSON
body" rule). There are no sockets here; ``server`` puts it on a port and the seeder
calls it directly.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Union
from urllib.parse import parse_qsl, unquote

from samlocal.auth import AuthError, JwtAuthorizer, claims_as_strings
from samlocal.intrinsics import ACCOUNT
from samlocal.lambdas import FunctionError, LambdaRuntime

log = logging.getLogger("samlocal.gateway")

API_ID = "local"
MAX_REQUEST_BYTES = 6 * 1024 * 1024
INTEGRATION_TIMEOUT = 30.0  # an HTTP API waits this long for its integration (cold start included), then answers 503
FUNCTION_URL_PREFIX = "/_local/url/"  # a function URL (FunctionUrlConfig) is served under this path
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded", "+json", "+xml")


@dataclass
class Route:
    method: str  # GET, POST, …, or ANY
    path: str  # /activities/{id}, /files/{proxy+}, or $default
    function: str  # logical id
    authorizer: Optional[str]  # None: open (Authorizer NONE or no default)
    scopes: list[str] = field(default_factory=list)

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> Optional[dict[str, str]]:
        if self.method not in ("ANY", method):
            return None
        if self.path == "$default":
            return {}
        want = self.path.strip("/").split("/") if self.path != "/" else []
        have = path.strip("/").split("/") if path.strip("/") else []
        params: dict[str, str] = {}
        for index, part in enumerate(want):
            if part.startswith("{") and part.endswith("+}"):
                if index >= len(have):
                    return None
                params[part[1:-2]] = unquote("/".join(have[index:]))
                return params
            if index >= len(have):
                return None
            if part.startswith("{") and part.endswith("}"):
                if not have[index]:
                    return None
                params[part[1:-1]] = unquote(have[index])
            elif part != have[index]:
                return None
        return params if len(want) == len(have) else None

    def specificity(self) -> tuple:
        """API Gateway prefers literal segments, then variables, then greedy, then $default."""
        if self.path == "$default":
            return (0, 0, 0)
        parts = self.path.strip("/").split("/")
        greedy = any(p.endswith("+}") for p in parts)
        literals = [not p.startswith("{") for p in parts]
        return (1, 0 if greedy else 1, tuple(literals), self.method != "ANY")


def routes_from_template(template: dict, resolve) -> tuple[list[Route], dict[str, dict]]:
    """Every route of the OpenAPI body SAM generates for an ``AWS::ApiGatewayV2::Api`` (``template``
    transformed), and each JWT authorizer's ``jwtConfiguration`` (resolved), by name."""
    routes, authorizers = [], {}
    for api in template.get("Resources", {}).values():
        if api.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        body = (api.get("Properties") or {}).get("Body") or {}
        for name, scheme in ((body.get("components") or {}).get("securitySchemes") or {}).items():
            config = scheme.get("x-amazon-apigateway-authorizer") or {}
            if config.get("type") == "jwt":
                authorizers[name] = resolve(config.get("jwtConfiguration") or {})
        for path, operations in (body.get("paths") or {}).items():
            for method, operation in operations.items():
                function = _integrated_function((operation.get("x-amazon-apigateway-integration") or {}).get("uri"))
                (authorizer, scopes), = (operation.get("security") or [{"NONE": []}])[0].items()
                method = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                routes.append(Route(method, path, function, None if authorizer == "NONE" else authorizer, list(scopes)))
    routes.sort(key=lambda r: r.specificity(), reverse=True)
    return routes, authorizers


def _integrated_function(uri: Any) -> str:
    # SAM writes the integration as a Sub naming ${Function.Arn}; the logical id is what the runtime knows.
    match = re.search(r"\$\{([A-Za-z0-9]+)\.Arn\}", (uri or {}).get("Fn::Sub", "") if isinstance(uri, dict) else "")
    if match is None:
        raise ValueError(f"integration {uri!r} is not a template function")
    return match.group(1)


@dataclass
class Cors:
    """An HTTP API's ``CorsConfiguration``: API Gateway answers preflights itself and adds the headers."""

    allow_origins: list[str]
    allow_methods: list[str] = field(default_factory=lambda: ["*"])
    allow_headers: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age: Optional[int] = None
    allow_credentials: bool = False

    @classmethod
    def from_template(cls, template: dict, resolve) -> Optional["Cors"]:
        """The ``x-amazon-apigateway-cors`` of the API body SAM generated (``template`` transformed)."""
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::ApiGatewayV2::Api":
                continue
            config = resolve(((resource.get("Properties") or {}).get("Body") or {}).get("x-amazon-apigateway-cors"))
            if isinstance(config, dict):
                return cls([str(o) for o in config.get("allowOrigins", [])],
                           [m.upper() for m in config.get("allowMethods", ["*"])],
                           [h.lower() for h in config.get("allowHeaders", [])],
                           [h.lower() for h in config.get("exposeHeaders", [])],
                           int(config["maxAge"]) if config.get("maxAge") is not None else None,
                           str(config.get("allowCredentials", False)).lower() == "true")
        return None

    def origin(self, origin: Optional[str]) -> Optional[str]:
        if not origin:
            return None
        if origin in self.allow_origins or ("*" in self.allow_origins and not self.allow_credentials):
            return origin if self.allow_credentials or "*" not in self.allow_origins else "*"
        return None

    def preflight(self, headers: dict[str, str]) -> "HttpResponse":
        allowed = self.origin(headers.get("origin"))
        method = headers.get("access-control-request-method", "").upper()
        response = HttpResponse(204, [], b"")
        if allowed and ("*" in self.allow_methods or method in self.allow_methods):
            response.headers += [("access-control-allow-origin", allowed),
                                 ("access-control-allow-methods", ",".join(self.allow_methods))]
            if self.allow_headers:
                response.headers.append(("access-control-allow-headers", ",".join(self.allow_headers)))
            if self.max_age is not None:
                response.headers.append(("access-control-max-age", str(self.max_age)))
            if self.allow_credentials:
                response.headers.append(("access-control-allow-credentials", "true"))
        return response

    def decorate(self, response: "HttpResponse", headers: dict[str, str]) -> "HttpResponse":
        allowed = self.origin(headers.get("origin"))
        response.headers = [(k, v) for k, v in response.headers if not k.startswith("access-control-")]
        if allowed:
            response.headers.append(("access-control-allow-origin", allowed))
            if self.expose_headers:
                response.headers.append(("access-control-expose-headers", ",".join(self.expose_headers)))
            if self.allow_credentials:
                response.headers.append(("access-control-allow-credentials", "true"))
        return response


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def json_response(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(document).encode())


class Gateway:
    def __init__(self, routes: list[Route], runtime: LambdaRuntime, authorizers: dict[str, JwtAuthorizer],
                 function_urls: Optional[dict[str, str]] = None, cors: Optional[Cors] = None,
                 integration_timeout: float = INTEGRATION_TIMEOUT) -> None:
        self.cors = cors
        self.integration_timeout = integration_timeout
        self.routes = routes
        self.runtime = runtime
        self.authorizers = authorizers
        self.function_urls = function_urls or {}  # logical id -> AuthType

    def handle_function_url(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"",
                            source_ip: str = "127.0.0.1") -> HttpResponse:
        """A Lambda function URL: payload v2, route key ``$default``, the path after the function's prefix."""
        function, _, rest = target[len(FUNCTION_URL_PREFIX):].partition("/")
        auth = self.function_urls.get(function)
        if auth is None:
            return json_response(404, {"message": f"no function URL for {function!r} in the template"})
        if auth != "NONE":  # AWS_IAM needs SigV4 from an AWS principal; nothing local can sign as one
            return json_response(403, {"Message": "Forbidden"})
        if len(body) > MAX_REQUEST_BYTES:
            return json_response(413, {"message": "Request Entity Too Large"})
        event = payload_v2_event(method, f"/{rest}", headers, body, source_ip=source_ip, api_id=function)
        try:
            result = self.runtime.invoke(function, event)
        except FunctionError as error:
            log.error("%s raised:\n%s", function, "".join(error.document["stackTrace"]))
            return json_response(502, {"Message": "Internal Server Error"})
        return self.response(result)

    def handle(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        source_ip: str = "127.0.0.1",
    ) -> HttpResponse:
        if self.cors and method.upper() == "OPTIONS" and "access-control-request-method" in _headers(headers):
            return self.cors.preflight(_headers(headers))  # API Gateway answers it; no route, no authorizer
        response = self._handle(method, target, headers, body, source_ip)
        return self.cors.decorate(response, _headers(headers)) if self.cors else response

    def route_for(self, method: str, target: str) -> Optional[tuple[Route, dict[str, str]]]:
        """The route that answers ``method target`` and its path parameters, or None (a 404)."""
        raw_path = target.partition("?")[0]
        for route in self.routes:
            path_params = route.match(method.upper(), raw_path)
            if path_params is not None:
                return route, path_params
        return None

    def _handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str) -> HttpResponse:
        method = method.upper()
        found = self.route_for(method, target)
        if found is None:
            return json_response(404, {"message": "Not Found"})
        route, path_params = found
        if len(body) > MAX_REQUEST_BYTES:  # Lambda's invocation payload limit, before anything runs
            return json_response(413, {"message": "Request Entity Too Large"})
        header_map = _headers(headers)
        authorizer_context = None
        if route.authorizer:
            authorizer = self.authorizers.get(route.authorizer)
            if authorizer is None:
                return json_response(500, {"message": f"authorizer {route.authorizer} is not supported locally"})
            try:
                claims = authorizer.authorize(header_map.get("authorization"), route.scopes)
            except AuthError as error:
                response = json_response(error.status, {"message": error.message})
                if error.status == 401:
                    response.headers.append(("www-authenticate", 'Bearer error="invalid_token"'))
                return response
            authorizer_context = {"jwt": {"claims": claims_as_strings(claims), "scopes": None}}
        event = payload_v2_event(method, target, headers, body, route_key=route.route_key, path_parameters=path_params,
                                 authorizer=authorizer_context, source_ip=source_ip)
        try:
            result = self._integrate(route.function, event)
        except TimeoutError:
            log.error("%s did not answer within the integration timeout (%.0f s): 503", route.function, self.integration_timeout)
            return json_response(503, {"message": "Service Unavailable"})
        except FunctionError as error:  # its handler raised, its environment died, or it timed out: HTTP API answers 500
            log.error("%s failed (%s):\n%s", route.function, error.document["errorType"], "".join(error.document["stackTrace"]))
            return json_response(500, {"message": "Internal Server Error"})
        return self.response(result)

    def _integrate(self, function: str, event: dict) -> Any:
        """The function's result, or ``TimeoutError`` past the integration timeout. As in AWS, the invocation
        goes on after the gateway gave up (in its own thread here), to its end or its own timeout."""
        outcome: dict[str, Any] = {}

        def invoke() -> None:
            try:
                outcome["result"] = self.runtime.invoke(function, event)
            except BaseException as error:  # noqa: BLE001 - handed to the waiting request
                outcome["error"] = error

        worker = threading.Thread(target=invoke, name=f"integration:{function}", daemon=True)
        worker.start()
        worker.join(self.integration_timeout)
        if worker.is_alive():
            raise TimeoutError(function)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    @staticmethod
    def response(result: Any) -> HttpResponse:
        """Payload v2 response rules: a dict with statusCode is a full answer; anything else is a 200 JSON body."""
        if not isinstance(result, dict) or "statusCode" not in result:
            return json_response(200, result)
        try:
            status = int(result["statusCode"])
        except (TypeError, ValueError):
            log.error("the function answered statusCode %r; API Gateway answers 500", result["statusCode"])
            return json_response(500, {"message": "Internal Server Error"})
        headers = [(k.lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(name.lower(), str(v)) for v in values]
        headers += [("set-cookie", c) for c in result.get("cookies") or []]
        body = result.get("body")
        if body is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(body)
        else:
            data = str(body).encode()
        if data and not any(name == "content-type" for name, _ in headers):
            headers.append(("content-type", "application/json"))
        return HttpResponse(status, headers, data)


def payload_v2_event(method: str, target: str, headers: Union[Mapping[str, str], list[tuple[str, str]]] = (),
                     body: Union[bytes, str, None] = None, *, route_key: str = "$default",
                     path_parameters: Optional[dict[str, str]] = None, authorizer: Optional[dict] = None,
                     source_ip: str = "127.0.0.1", api_id: str = API_ID) -> dict:
    """The payload-format-2.0 event API Gateway sends for one request (``target``: raw path and query).

    >>> event = payload_v2_event("GET", "/activities?status=FAILED&status=WARNING", {"host": "localhost"})
    >>> event["queryStringParameters"]
    {'status': 'FAILED,WARNING'}
    """
    method = method.upper()
    raw_path, _, raw_query = target.partition("?")
    body = body.encode() if isinstance(body, str) else (body or b"")
    header_map = _headers(headers.items() if isinstance(headers, Mapping) else headers)
    now = datetime.now(timezone.utc)
    cookies = header_map.pop("cookie", None)
    # What API Gateway adds on the way in.
    host = header_map.setdefault("host", "localhost")
    header_map["x-forwarded-for"] = f"{header_map['x-forwarded-for']}, {source_ip}" if "x-forwarded-for" in header_map else source_ip
    header_map.setdefault("x-forwarded-proto", "http")
    header_map.setdefault("x-forwarded-port", host.rsplit(":", 1)[1] if ":" in host else "80")
    header_map.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": header_map,
    }
    if cookies:
        event["cookies"] = [c.strip() for c in cookies.split(";") if c.strip()]
    if raw_query:
        query: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        event["queryStringParameters"] = query
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": header_map.get("user-agent", ""),
        },
        "requestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode().rstrip("="),
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(time.time() * 1000),
    }
    if authorizer:
        context["authorizer"] = authorizer
    event["requestContext"] = context
    if body and _is_text(header_map.get("content-type", "")):
        try:
            event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    elif body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["isBase64Encoded"] = False
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


def _headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        result[name] = f"{result[name]},{value}" if name in result else value
    return result


def _is_text(content_type: str) -> bool:
    content_type = content_type.lower()
    return not content_type or any(marker in content_type for marker in TEXT_TYPES)



