"""API Gateway HTTP API events for the service's handlers, from the test kit.

``api_event`` and ``LambdaContext`` are ``tests.support.kit``'s (the local gateway builds
its events the same way); this module adds the claims a test token carries and finds a
route's handler module through template.yaml.

>>> event = api_event("GET", "/activities", query={"status": ["FAILED", "WARNING"]}, claims=claims("org_1"))
>>> event["queryStringParameters"]
{'status': 'FAILED,WARNING'}
"""

from __future__ import annotations

import time
from typing import Optional

from tests.support.kit import LambdaContext, api_event, function_for, load_handler_module

__all__ = ["LambdaContext", "api_event", "claims", "handler_module", "load_handler_module"]


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


def handler_module(method: str, path: str):
    """The handler module of the template function that serves ``method path``."""
    return load_handler_module(function_for(method, path))
