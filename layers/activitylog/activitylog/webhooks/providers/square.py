"""Square: ``x-square-hmacsha256-signature`` = base64(HMAC-SHA256(signature key, notification URL + raw body)).

An event is named by its ``event_id``; what it is about is ``data.object.{data.type}``, its kind
the first word(s) of the event type (``payment.updated`` → payment).

Missed events: Square's Events API (``POST /v2/events``, SearchEvents) lists the seller's events of the
last 28 days (once the application has enabled it, ``PUT /v2/events/enable``) by ``created_at``, 100 a
page, paged by ``cursor``; it cannot filter on delivery, so every event of the window is listed and the
recovery compares them with what is recorded. The org's key: the seller's access token.

>>> event = provider.sample_event("sq_1", "payment.updated")
>>> provider.entity(event, provider.read(event))["label"]
'42.00 USD'
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from activitylog.entry import Status
from activitylog.webhooks.providers.base import (
    Delivery,
    Identity,
    Provider,
    Rejected,
    describe,
    hmac_base64,
    iso,
    signature_matches,
    status_by_type_or_object,
)

# What an event is about, by the first word(s) of its type (the longest prefix wins).
ENTITY_TYPES = {
    "payment": "payment",
    "refund": "payment",
    "invoice": "payment",
    "customer": "contact",
    "catalog": "product",
    "inventory": "product",
    "order.fulfillment": "fulfillment",
}


class Square(Provider):
    name, display, signature_header = "square", "Square", "x-square-hmacsha256-signature"
    sample_types = ("payment.updated", "inventory.count.updated", "customer.updated")
    secret_headers = ("x-square-hmacsha256-signature", "x-square-signature")  # and the older SHA-1 one

    def check(self, delivery: Delivery, secret: str) -> None:
        expected = hmac_base64(
            secret, delivery.url.encode("utf-8", "replace") + delivery.body
        )  # no URL can make it raise
        if not signature_matches(expected, delivery.headers[self.signature_header]):
            raise Rejected("signature does not match", self.signature_header)

    def read(self, event: dict) -> Identity:
        return Identity(str(event["event_id"]), str(event["type"]), iso(event.get("created_at")))

    def status(self, event: dict, identity: Identity) -> Status:
        return status_by_type_or_object(identity.event_type, _object(event))

    def entity(self, event: dict, identity: Identity) -> Optional[dict]:
        found = _object(event) or {}
        kind = next(
            (
                entity
                for prefix, entity in sorted(ENTITY_TYPES.items(), key=lambda item: -len(item[0]))
                if identity.event_type == prefix or identity.event_type.startswith(prefix + ".")
            ),
            None,
        )
        object_id = (event.get("data") or {}).get("id") or found.get("id")
        if not kind or not object_id:
            return None
        return {"type": kind, "id": str(object_id), "label": describe(kind, found)}

    recovery_days = 28  # "Search for Square API events that occur within a 28-day timeframe"
    api_base = "https://connect.squareup.com"
    api_version = "2024-10-17"

    def missed_events(
        self, api_key: str, start: datetime, end: datetime, api_base: Optional[str] = None
    ) -> Iterator[dict]:
        query = {
            "filter": {"created_at": {"start_at": _rfc3339(start), "end_at": _rfc3339(end)}},
            "sort": {"sort_field": "DEFAULT", "order": "ASC"},
        }
        cursor: Optional[str] = None
        while True:
            page = self._search(
                api_key,
                api_base or self.api_base,
                {"limit": 100, "query": query} | ({"cursor": cursor} if cursor else {}),
            )
            yield from page.get("events") or []
            cursor = page.get("cursor")
            if not cursor:
                return

    def _search(self, api_key: str, base: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{base.rstrip('/')}/v2/events",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {api_key}",
                "Square-Version": self.api_version,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - https (a fake on loopback in tests)
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if error.code in (400, 401, 403):
                detail = _error_detail(error)
                raise Rejected(f"Square refused the organization's access token: {detail}", "provider") from None
            raise ConnectionError(f"Square answered {error.code}") from None
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise ConnectionError(f"Square did not answer: {error}") from None

    def sign(self, secret: str, body: bytes, url: str, timestamp: Optional[int] = None) -> dict[str, str]:
        return {self.signature_header: hmac_base64(secret, url.encode() + body)}

    def sample_event(
        self, event_id: str, event_type: str, occurred_at: Optional[datetime] = None, **fields: Any
    ) -> dict:
        """``event_id``, ``created_at`` and ``data.object.{type}``."""
        when = (occurred_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        kind = event_type.split(".", 1)[0]
        object_id = f"sq_{hashlib.sha1(event_id.encode()).hexdigest()[:20]}"
        obj = {"id": object_id} | (
            {"amount_money": {"amount": 4200, "currency": "USD"}, "status": "COMPLETED"} if kind == "payment" else {}
        )
        return {
            "merchant_id": "ML_DEMO_MERCHANT",
            "type": event_type,
            "event_id": event_id,
            "created_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": {"type": kind, "id": object_id, "object": {kind: obj | fields}},
        }


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_detail(error: "urllib.error.HTTPError") -> str:
    """Square's first error, as it words it (``{"errors": [{"category", "code", "detail"}]}``)."""
    try:
        first = (json.loads(error.read()).get("errors") or [{}])[0]
    except (ValueError, AttributeError):
        return f"HTTP {error.code}"
    return str(first.get("detail") or first.get("code") or f"HTTP {error.code}")


def _object(event: dict) -> Optional[dict]:
    """The object the event carries: ``data.object.<data.type>`` (or the one object there)."""
    data = event["data"] if isinstance(event.get("data"), dict) else {}
    objects = data["object"] if isinstance(data.get("object"), dict) else {}
    found = objects.get(data.get("type")) or next((v for v in objects.values() if isinstance(v, dict)), None)
    return found if isinstance(found, dict) else None


provider = Square()
