"""The providers: how each one signs its webhooks, and how to read an event's identity.

- Stripe: ``Stripe-Signature: t=…,v1=…[,v1=…]``, checked by ``stripe.Webhook.construct_event``
  with a 300 s tolerance; any of several ``v1`` signatures may match (Stripe sends one per
  secret while a secret is being rolled).
- Square: ``x-square-hmacsha256-signature`` = base64(HMAC-SHA256(signature key,
  notification URL + raw body)).
- FedEx: ``fdx-signature`` = base64(HMAC-SHA256(security token, raw body)).

Every check refuses with ``Rejected`` and a short reason the 400 answers with.

>>> provider = PROVIDERS["fedex"]
>>> provider.verify(Delivery("fedex", "org_1", body, {"fdx-signature": signature}, url), token)
>>> provider.identity(json.loads(body)).event_id
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

STRIPE_TOLERANCE_SECONDS = 300  # a signature older than this is refused (replays of a captured request)


class Rejected(Exception):
    """A delivery refused: ``reason`` is the short text of the 400, ``field`` the header or body at fault."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


@dataclass(frozen=True)
class Delivery:
    """One webhook request as it arrived: the raw body, headers by lower-case name, and the URL it was sent to."""

    provider: str
    org: str
    body: bytes
    headers: dict[str, str]
    url: str


@dataclass(frozen=True)
class Identity:
    """What names one provider event: its id (exactly one entry per id), its type, when it happened."""

    event_id: str
    event_type: str
    occurred_at: Optional[datetime]


@dataclass(frozen=True)
class Provider:
    name: str  # the URL's path part and the actor id: stripe
    display: str  # the actor's name: Stripe
    signature_header: str  # lower case
    check: Callable[["Delivery", str], None]
    read: Callable[[dict], Identity]

    def verify(self, delivery: Delivery, secret: str) -> None:
        """Raise ``Rejected`` unless ``delivery`` is signed with ``secret``."""
        signature = delivery.headers.get(self.signature_header)
        if not signature:
            raise Rejected(f"missing {self.signature_header} header", self.signature_header)
        if not signature.isascii():  # every scheme's signature is ASCII; others would break the comparison itself
            raise Rejected(f"malformed {self.signature_header} header", self.signature_header)
        self.check(delivery, secret)

    def identity(self, body: bytes) -> tuple[dict, Identity]:
        """The event (a JSON object) and its identity; ``Rejected`` naming ``body`` when it has none."""
        try:
            event = json.loads(body)
        except ValueError:
            raise Rejected("body is not JSON", "body") from None
        if not isinstance(event, dict):
            raise Rejected("body is not a JSON object", "body")
        try:
            identity = self.read(event)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            raise Rejected(f"body is not a {self.display} event (no event id or type)", "body") from None
        if not identity.event_id or not identity.event_type:
            raise Rejected(f"body is not a {self.display} event (no event id or type)", "body")
        return event, identity


# --- Stripe --------------------------------------------------------------------------------------

# Stripe's messages, as short reasons.
_STRIPE_REASONS = (
    ("Unable to extract timestamp", "malformed Stripe-Signature header"),
    ("No signatures found with expected scheme", "no v1 signature in Stripe-Signature header"),
    ("No signatures found matching", "signature does not match"),
    ("Timestamp outside the tolerance zone", f"signature timestamp older than {STRIPE_TOLERANCE_SECONDS} s"),
)


def _stripe_check(delivery: Delivery, secret: str) -> None:
    import stripe  # ~100 ms of import: only where a Stripe webhook arrives

    try:
        stripe.Webhook.construct_event(delivery.body, delivery.headers["stripe-signature"], secret,
                                       tolerance=STRIPE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as error:
        message = str(error)
        reason = next((short for text, short in _STRIPE_REASONS if text in message), "signature does not match")
        raise Rejected(reason, "stripe-signature") from None
    except ValueError:  # verified, but the body is not JSON (or not UTF-8)
        raise Rejected("body is not JSON", "body") from None


def _stripe_read(event: dict) -> Identity:
    return Identity(str(event["id"]), str(event["type"]), _epoch(event.get("created")))


# --- Square --------------------------------------------------------------------------------------


def _hmac_base64(key: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def _square_check(delivery: Delivery, secret: str) -> None:
    expected = _hmac_base64(secret, delivery.url.encode("utf-8", "replace") + delivery.body)  # no URL can make it raise
    if not hmac.compare_digest(expected.encode(), delivery.headers["x-square-hmacsha256-signature"].strip().encode()):
        raise Rejected("signature does not match", "x-square-hmacsha256-signature")


def _square_read(event: dict) -> Identity:
    return Identity(str(event["event_id"]), str(event["type"]), _iso(event.get("created_at")))


# --- FedEx ---------------------------------------------------------------------------------------


def _fedex_check(delivery: Delivery, secret: str) -> None:
    expected = _hmac_base64(secret, delivery.body)
    if not hmac.compare_digest(expected.encode(), delivery.headers["fdx-signature"].strip().encode()):
        raise Rejected("signature does not match", "fdx-signature")


def fedex_scan(event: dict) -> dict:
    """The tracking result a FedEx push is about (its payload follows the Track API's response)."""
    results = event.get("trackResults") or [{}]
    return results[0] if isinstance(results[0], dict) else {}


def fedex_tracking_number(event: dict) -> Optional[str]:
    number = event.get("trackingNumber") or (fedex_scan(event).get("trackingNumberInfo") or {}).get("trackingNumber")
    return str(number) if number else None


def _fedex_read(event: dict) -> Identity:
    latest = fedex_scan(event).get("latestStatusDetail") or {}
    event_type = event.get("eventType") or latest.get("derivedCode") or latest.get("code")
    scans = fedex_scan(event).get("scanEvents") or [{}]
    when = scans[0].get("date") or event.get("eventCreateTime")
    # FedEx documents no event id: a push is named by what it reports, this tracking number's
    # status at this scan time, as written (the same push delivered again names the same event).
    number = fedex_tracking_number(event)
    event_id = f"{number}:{event_type}:{when}" if number and event_type and when else ""
    return Identity(event_id, str(event_type or ""), _iso(when))


PROVIDERS: dict[str, Provider] = {
    provider.name: provider
    for provider in (
        Provider("stripe", "Stripe", "stripe-signature", _stripe_check, _stripe_read),
        Provider("square", "Square", "x-square-hmacsha256-signature", _square_check, _square_read),
        Provider("fedex", "FedEx", "fdx-signature", _fedex_check, _fedex_read),
    )
}


def _epoch(value: Any) -> Optional[datetime]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(value: Any) -> Optional[datetime]:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else None
