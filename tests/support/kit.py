"""The test kit: one way to build events and contexts and to call the API, for every tier of tests and the bench.

- ``api_event``       a payload-v2 event for a template route (the local gateway's own builder)
- ``LambdaContext``   the handler's ``context`` (the local runtime's own)
- ``sqs_record``      one record of an SQS event source's batch, from a received message (the local poller's own)
- ``HttpClient``      JSON over HTTP to a running stack; ``InProcessClient`` into a stack in this process
- ``provider_event``  a registered provider's webhook event, shaped as the provider sends it
- ``signed_delivery`` its body and headers, signed as the provider signs (each provider module's ``sign``)

>>> event = api_event("GET", "/activities", query={"status": ["FAILED", "WARNING"]}, claims={"org_id": "org_1", "sub": "u_17"})
>>> event["routeKey"], event["queryStringParameters"]
('GET /activities', {'status': 'FAILED,WARNING'})
>>> function_for("GET", "/activities") in load()["Resources"]  # the template function that serves it
True
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import urlencode

import importlib

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# The local runtime's own builders, imported on first use: a unit test takes the kit's webhook half
# without loading the runtime.
_FROM_RUNTIME = {"HttpClient": "activitylog_local.client", "InProcessClient": "activitylog_local.client",
                 "LambdaContext": "samlocal.context", "sqs_record": "samlocal.sources", "payload_v2_event": "samlocal.gateway"}


def __getattr__(name: str) -> Any:
    if name in _FROM_RUNTIME:
        return getattr(importlib.import_module(_FROM_RUNTIME[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["HttpClient", "InProcessClient", "LambdaContext", "api_event", "function_for", "load_handler_module", "payload_v2_event", "provider_event",
           "signed_delivery", "sqs_record"]

QueryValue = Union[str, int, Sequence[Union[str, int]]]


def api_event(
    method: str,
    path: str,
    *,
    query: Optional[Mapping[str, QueryValue]] = None,
    body: Any = None,
    claims: Optional[Mapping[str, str]] = None,
    headers: Optional[Mapping[str, str]] = None,
    template: Path = TEMPLATE,
) -> dict:
    """The event API Gateway sends for ``method path``: the route key and path parameters come from the
    template, ``claims`` are the JWT authorizer's (values strings), ``body`` a str as is or JSON."""
    route, path_parameters = _route(method, path, template)
    pairs = [(name, str(v)) for name, value in (query or {}).items()
             for v in (value if isinstance(value, (list, tuple)) else [value])]
    all_headers = {"host": "localhost", "user-agent": "activitylog-kit", "accept": "application/json"}
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
    if data is not None:
        all_headers.update({"content-type": "application/json", "content-length": str(len(data))})
    authorizer = None
    if claims is not None:  # the authorizer verified a token and handed its claims over
        all_headers["authorization"] = "Bearer local.kit.token"
        authorizer = {"jwt": {"claims": dict(claims), "scopes": str(claims.get("scope", "")).split() or None}}
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    target = f"{path}?{urlencode(pairs)}" if pairs else path
    from samlocal.gateway import payload_v2_event

    return payload_v2_event(method, target, all_headers, data, route_key=route.route_key, path_parameters=path_parameters,
                            authorizer=authorizer, source_ip="203.0.113.7")


def function_for(method: str, path: str, template: Path = TEMPLATE) -> str:
    """The logical id of the template function that serves ``method path``."""
    return _route(method, path, template)[0].function


def load_handler_module(logical_id: Optional[str] = None):
    """The handler module of a template.yaml function (by default the one serving ``GET /activities``),
    found by its CodeUri and Handler.

    Loaded under a unique module name (``functions_<dir>_<module>``) so handlers of several
    functions, all called ``app``, never shadow each other in ``sys.modules``.
    """
    import importlib.util
    import sys

    from samlocal.template import ROOT, load

    props = load()["Resources"][logical_id or function_for("GET", "/activities")]["Properties"]
    module_name, _ = props["Handler"].rsplit(".", 1)
    code_dir = ROOT / props["CodeUri"]
    unique = f"functions_{code_dir.name}_{module_name}"
    if unique not in sys.modules:
        spec = importlib.util.spec_from_file_location(unique, code_dir / f"{module_name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    return sys.modules[unique]


def _route(method: str, path: str, template: Path) -> tuple[Any, dict[str, str]]:
    for route in _routes(str(template)):
        path_parameters = route.match(method.upper(), path)
        if path_parameters is not None:
            return route, path_parameters
    raise KeyError(f"{method} {path}: no route in {template}")


@lru_cache(maxsize=4)
def _routes(template: str) -> list:
    from samlocal.gateway import routes_from_template
    from samlocal.template import load, transform

    return routes_from_template(transform(load(Path(template))), lambda value: value)[0]  # authorizers stay unresolved: routes only


# --- webhooks ---------------------------------------------------------------------------------------


def provider_event(provider: str, event_id: str, event_type: str, occurred_at: Optional[datetime] = None,
                   **fields: Any) -> dict:
    """A webhook event as ``provider`` sends it (the provider module's ``sample_event``); ``fields`` go
    into the object it carries.

    >>> provider_event("stripe", "evt_1", "payment_intent.succeeded", amount=4200)["data"]["object"]["amount"]
    4200
    """
    return _provider(provider).sample_event(event_id, event_type, occurred_at, **fields)


def signed_delivery(provider: str, secret: str, event: Any, url: str, timestamp: Optional[int] = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of ``event``'s delivery to ``url``, signed with ``secret`` as ``provider`` signs it
    (the provider module's ``sign``: Stripe's own signer for Stripe).

    >>> body, headers = signed_delivery("stripe", "whsec_test", {"id": "evt_1"}, "http://127.0.0.1:3001/webhooks/stripe/org_1")
    >>> headers["stripe-signature"]  # doctest: +ELLIPSIS
    't=...,v1=...'
    """
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": f"{provider.title()}/1.0 (webhooks)"}
    return body, headers | _provider(provider).sign(secret, body, url, timestamp)


def _provider(name: str):
    from activitylog.webhooks.providers import PROVIDERS

    if name not in PROVIDERS:
        raise ValueError(f"no provider {name!r}")
    return PROVIDERS[name]
