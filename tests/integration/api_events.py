"""API Gateway HTTP API (payload format 2.0) events, shaped as the service receives them.

What API Gateway does, and this builder copies:

- repeated query parameters arrive in ``queryStringParameters`` joined with commas;
- ``routeKey`` is the template's route (``GET /activities/{id}``), ``rawPath`` the real path;
- the JWT authorizer puts the verified claims under ``requestContext.authorizer.jwt.claims``
  (values are strings) and the token's scopes under ``...jwt.scopes``;
- a route with ``Authorizer: NONE`` has no ``authorizer`` at all.

>>> event = api_event("GET", "/activities", query={"status": ["FAILED", "WARNING"]}, claims=claims("org_1"))
>>> event["queryStringParameters"]
{'status': 'FAILED,WARNING'}
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import urlencode

# The template's routes, by the path pattern a request matches.
_ROUTES = (
    ("/activities/batch", "/activities/batch"),
    (r"/activities/[^/]+", "/activities/{id}"),
    ("/activities", "/activities"),
    ("/openapi.json", "/openapi.json"),
)

QueryValue = Union[str, int, Sequence[Union[str, int]]]


def claims(
    org: Optional[str] = "org_acme",
    sub: str = "u_17",
    scope: str = "activity:read activity:write",
    name: Optional[str] = "Riley Park",
) -> dict[str, str]:
    """JWT claims as the authorizer hands them over: every value a string."""
    result = {
        "sub": sub,
        "scope": scope,
        "iss": "https://auth.example.com/",
        "aud": "activity-log",
        "iat": str(int(time.time()) - 60),
        "exp": str(int(time.time()) + 3600),
    }
    if org is not None:
        result["org_id"] = org
    if name is not None:
        result["name"] = name
    return result


def api_event(
    method: str,
    path: str,
    *,
    query: Optional[Mapping[str, QueryValue]] = None,
    body: Any = None,
    claims: Optional[Mapping[str, str]] = None,
    headers: Optional[Mapping[str, str]] = None,
) -> dict:
    """One payload-v2 event. ``body`` may be a str (sent as is) or any JSON value (serialized)."""
    method = method.upper()
    template_path = _template_path(path)
    route_key = f"{method} {template_path}"
    raw_body = body if body is None or isinstance(body, str) else json.dumps(body)

    pairs: list[tuple[str, str]] = []
    joined: dict[str, str] = {}
    for name, value in (query or {}).items():
        values = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        pairs.extend((name, v) for v in values)
        joined[name] = ",".join(values)

    all_headers = {
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "pytest",
        "x-amzn-trace-id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if claims is not None:
        all_headers["authorization"] = "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
    if raw_body is not None:
        all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(raw_body.encode()))
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})

    now = time.time()
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "abc123",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "pytest",
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {
            "jwt": {"claims": dict(claims), "scopes": str(claims.get("scope", "")).split() or None}
        }

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(pairs),
        "headers": all_headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if joined:
        event["queryStringParameters"] = joined
    if template_path.endswith("{id}"):
        event["pathParameters"] = {"id": path.rsplit("/", 1)[1]}
    if raw_body is not None:
        event["body"] = raw_body
    return event


def _template_path(path: str) -> str:
    for pattern, template_path in _ROUTES:
        if re.fullmatch(pattern, path):
            return template_path
    return path


class LambdaContext:
    """The attributes Powertools' Logger reads from a Lambda context."""

    function_name = "activity-log-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:activity-log-api"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/activity-log-api"
        self.log_stream_name = "2026/11/26/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


def load_handler_module(logical_id: str = "ApiFunction"):
    """The handler module of a template.yaml function, found by its CodeUri and Handler.

    Loaded under a unique module name (``functions_<dir>_<module>``) so handlers of several
    functions, all called ``app``, never shadow each other in ``sys.modules``.
    """
    import importlib.util
    import sys

    from activitylog_local.template import ROOT, load

    props = load()["Resources"][logical_id]["Properties"]
    module_name, _ = props["Handler"].rsplit(".", 1)
    code_dir = ROOT / props["CodeUri"]
    unique = f"functions_{code_dir.name}_{module_name}"
    if unique not in sys.modules:
        spec = importlib.util.spec_from_file_location(unique, code_dir / f"{module_name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    return sys.modules[unique]
