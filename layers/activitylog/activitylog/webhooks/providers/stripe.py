"""Stripe: ``Stripe-Signature: t=…,v1=…[,v1=…]``, checked by Stripe's own library.

``stripe.Webhook.construct_event`` with a 300 s tolerance; any of several ``v1`` signatures may
match (Stripe sends one per secret while a secret is being rolled). An event is named by its
``id``; what it is about is ``data.object`` (its ``object`` says which kind).

Missed events: Stripe's List Events (``GET /v1/events``, Stripe's library) with ``delivery_success=false``
(the events whose delivery is pending or failed) and ``created[gte]``/``created[lte]``, 100 a page,
paged by ``starting_after``; Stripe keeps events 30 days. The org's key: a restricted key with read
access to events.

>>> event = provider.sample_event("evt_1", "payment_intent.succeeded", amount=4200)
>>> provider.entity(event, provider.read(event))["label"]
'42.00 USD'
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from activitylog.entry import Status
from activitylog.webhooks.providers.base import (
    Delivery,
    Identity,
    Provider,
    Rejected,
    describe,
    epoch,
    status_by_type_or_object,
)

TOLERANCE_SECONDS = 300  # a signature older than this is refused (replays of a captured request)

# What an event is about, by the object it carries (``data.object.object``).
ENTITY_TYPES = {
    "payment_intent": "payment",
    "charge": "payment",
    "refund": "payment",
    "invoice": "payment",
    "dispute": "payment",
    "checkout.session": "payment",
    "payout": "payment",
    "customer": "contact",
    "product": "product",
    "price": "product",
}

# Stripe's messages, as short reasons.
_REASONS = (
    ("Unable to extract timestamp", "malformed Stripe-Signature header"),
    ("No signatures found with expected scheme", "no v1 signature in Stripe-Signature header"),
    ("No signatures found matching", "signature does not match"),
    ("Timestamp outside the tolerance zone", f"signature timestamp older than {TOLERANCE_SECONDS} s"),
)
_ID_PREFIX = {
    "payment_intent": "pi",
    "charge": "ch",
    "refund": "re",
    "customer": "cus",
    "invoice": "in",
    "product": "prod",
}


class Stripe(Provider):
    name, display, signature_header = "stripe", "Stripe", "stripe-signature"
    sample_types = ("payment_intent.succeeded", "charge.refunded", "payment_intent.payment_failed", "invoice.paid")

    def check(self, delivery: Delivery, secret: str) -> None:
        import stripe  # ~100 ms of import: only where a Stripe webhook arrives

        try:
            stripe.Webhook.construct_event(
                delivery.body, delivery.headers["stripe-signature"], secret, tolerance=TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as error:
            message = str(error)
            reason = next((short for text, short in _REASONS if text in message), "signature does not match")
            raise Rejected(reason, "stripe-signature") from None
        except ValueError:  # verified, but the body is not JSON (or not UTF-8)
            raise Rejected("body is not JSON", "body") from None

    def read(self, event: dict) -> Identity:
        return Identity(str(event["id"]), str(event["type"]), epoch(event.get("created")))

    def status(self, event: dict, identity: Identity) -> Status:
        return status_by_type_or_object(identity.event_type, _object(event))

    def entity(self, event: dict, identity: Identity) -> Optional[dict]:
        found = _object(event) or {}
        kind = ENTITY_TYPES.get(str(found.get("object", "")))
        object_id = found.get("id")
        if not kind or not object_id:
            return None
        return {"type": kind, "id": str(object_id), "label": describe(kind, found)}

    recovery_days = 30  # "Retrieves the details of an event if it was created in the last 30 days"
    api_base = "https://api.stripe.com"

    def missed_events(
        self, api_key: str, start: datetime, end: datetime, api_base: Optional[str] = None
    ) -> Iterator[dict]:
        import stripe

        client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base or self.api_base},
            max_network_retries=2,  # Stripe's library retries a 429, a 5xx and a lost connection, idempotently
            http_client=stripe.RequestsClient(timeout=10),
        )
        params = {
            "delivery_success": False,
            "created": {"gte": int(start.timestamp()), "lte": int(end.timestamp())},
            "limit": 100,
        }
        try:
            for event in client.v1.events.list(params=params).auto_paging_iter():  # type: ignore[arg-type]
                yield event.to_dict()
        except (stripe.AuthenticationError, stripe.PermissionError, stripe.InvalidRequestError) as error:
            raise Rejected(f"Stripe refused the organization's API key: {_unkeyed(error)}", "provider") from None
        except stripe.StripeError as error:
            raise ConnectionError(f"Stripe did not answer: {_unkeyed(error)}") from None

    def sign(self, secret: str, body: bytes, url: str, timestamp: Optional[int] = None) -> dict[str, str]:
        import stripe

        return {
            "stripe-signature": stripe.WebhookSignature.generate_signature_header(
                body.decode(), secret, timestamp=timestamp
            )
        }

    def sample_event(
        self, event_id: str, event_type: str, occurred_at: Optional[datetime] = None, **fields: Any
    ) -> dict:
        """An ``event`` with ``data.object`` (a payment intent unless the type says otherwise)."""
        when = (occurred_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        kind = event_type.rsplit(".", 1)[0]
        obj: dict[str, Any] = {
            "id": f"{_ID_PREFIX.get(kind, 'obj')}_{hashlib.sha1(event_id.encode()).hexdigest()[:14]}",
            "object": kind,
        }
        if kind in ("payment_intent", "charge", "refund"):
            obj |= {
                "amount": 4200,
                "currency": "usd",
                "status": "requires_payment_method" if "failed" in event_type else "succeeded",
            }
        return {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(when.timestamp()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": obj | fields},
        }

    def new_secret(self) -> str:
        return "whsec_" + secrets.token_hex(32)


def _unkeyed(error: Exception) -> str:
    """Stripe's message without the key it may quote (``Invalid API Key provided: rk_live_****1234``).

    >>> _unkeyed(ValueError("Invalid API Key provided: rk_live_****abcd"))
    'Invalid API Key provided: *****'
    """
    message = str(getattr(error, "user_message", None) or error)
    return re.sub(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9*]+", "*****", message)[:300]


def _object(event: dict) -> Optional[dict]:
    """The object the event carries: ``data.object``."""
    data = event["data"] if isinstance(event.get("data"), dict) else {}
    found = data.get("object")
    return found if isinstance(found, dict) else None


provider = Stripe()
