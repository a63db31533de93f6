"""The test kit: one way to build events and contexts and to call the API, for every tier of tests and the bench.

- ``api_event``       a payload-v2 event for a template route (the local gateway's own builder)
- ``LambdaContext``   the handler's ``context`` (the local runtime's own)
- ``sqs_record``      one record of an SQS event source's batch, from a received message (the local poller's own)
- ``HttpClient``      JSON over HTTP to a running stack; ``InProcessClient`` into a stack in this process
- ``provider_event``  a Stripe, Square or FedEx webhook event, shaped as the provider sends it
- ``signed_delivery`` its body and headers, signed as the provider signs (Stripe's own signer)

>>> event = api_event("GET", "/activities", query={"status": ["FAILED", "WARNING"]}, claims={"org_id": "org_1", "sub": "u_17"})
>>> event["routeKey"], event["queryStringParameters"]
('GET /activities', {'status': 'FAILED,WARNING'})
>>> function_for("GET", "/activities") in load()["Resources"]  # the template function that serves it
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
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

__all__ = ["HttpClient", "InProcessClient", "LambdaContext", "api_event", "function_for", "payload_v2_event", "provider_event",
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
    """A webhook event as ``provider`` sends it; ``fields`` go into the object it carries.

    Stripe: an ``event`` with ``data.object`` (a payment intent unless the type says otherwise);
    Square: ``event_id``, ``created_at`` and ``data.object.{type}``; FedEx: a tracking push in the
    Track API's shape (``trackResults[0].latestStatusDetail``), ``event_type`` its status code.

    >>> provider_event("stripe", "evt_1", "payment_intent.succeeded", amount=4200)["data"]["object"]["amount"]
    4200
    """
    when = (occurred_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if provider == "stripe":
        kind = event_type.rsplit(".", 1)[0]
        obj = {"id": f"{_STRIPE_PREFIX.get(kind, 'obj')}_{hashlib.sha1(event_id.encode()).hexdigest()[:14]}", "object": kind}
        if kind in ("payment_intent", "charge", "refund"):
            obj |= {"amount": 4200, "currency": "usd", "status": "requires_payment_method" if "failed" in event_type else "succeeded"}
        return {"id": event_id, "object": "event", "api_version": "2024-06-20", "created": int(when.timestamp()), "livemode": False,
                "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": event_type,
                "data": {"object": obj | fields}}
    if provider == "square":
        kind = event_type.split(".", 1)[0]
        object_id = f"sq_{hashlib.sha1(event_id.encode()).hexdigest()[:20]}"
        obj = {"id": object_id} | ({"amount_money": {"amount": 4200, "currency": "USD"}, "status": "COMPLETED"} if kind == "payment" else {})
        return {"merchant_id": "ML_DEMO_MERCHANT", "type": event_type, "event_id": event_id,
                "created_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "data": {"type": kind, "id": object_id, "object": {kind: obj | fields}}}
    if provider == "fedex":
        # FedEx names no event: its identity is the tracking number, status and scan time, so each
        # ``event_id`` gets its own tracking number unless one is given.
        number = fields.pop("tracking_number", str(7940_0000_0000 + int(hashlib.sha1(event_id.encode()).hexdigest()[:8], 16) % 10**8))
        description = fields.pop("description", {"DL": "Delivered", "DE": "Delivery exception", "IT": "In transit"}.get(event_type, event_type))
        return {"trackingNumber": number, "eventCreateTime": when.isoformat().replace("+00:00", "Z"),
                "trackResults": [{"trackingNumberInfo": {"trackingNumber": number},
                                  "latestStatusDetail": {"code": event_type, "derivedCode": event_type, "description": description},
                                  "scanEvents": [{"date": when.isoformat(), "eventType": event_type, "eventDescription": description}]}]} | fields
    raise ValueError(f"no provider {provider!r}")


_STRIPE_PREFIX = {"payment_intent": "pi", "charge": "ch", "refund": "re", "customer": "cus", "invoice": "in", "product": "prod"}


def signed_delivery(provider: str, secret: str, event: Any, url: str, timestamp: Optional[int] = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of ``event``'s delivery to ``url``, signed with ``secret`` as ``provider`` signs it.

    >>> body, headers = signed_delivery("stripe", "whsec_test", event, "http://127.0.0.1:3001/webhooks/stripe/org_1")
    >>> headers["stripe-signature"]  # doctest: +ELLIPSIS
    't=...,v1=...'
    """
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": f"{provider.title()}/1.0 (webhooks)"}
    if provider == "stripe":
        import stripe

        headers["stripe-signature"] = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)
    elif provider == "square":
        headers["x-square-hmacsha256-signature"] = _hmac_base64(secret, url.encode() + body)
    elif provider == "fedex":
        headers["fdx-signature"] = _hmac_base64(secret, body)
    else:
        raise ValueError(f"no provider {provider!r}")
    return body, headers


def _hmac_base64(key: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()
