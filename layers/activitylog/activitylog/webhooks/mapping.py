"""A verified provider event as a WEBHOOK entry: the rows the Activity Logs page shows.

- type WEBHOOK; actor ``{external, stripe, Stripe}`` (``square``/Square, ``fedex``/FedEx)
- event: the provider's event type (``payment_intent.succeeded``; FedEx: its status code and description)
- action: the type's last word (``succeeded``, ``payment_failed``, ``updated``)
- entity: from the payload (``ENTITY_TYPES``): payment for payment intents, charges, refunds
  and invoices; product for catalog and inventory; fulfillment for shipments and tracking;
  contact for customers; none for anything else
- status: ``status_of`` (the table in the README): WARNING for a failed payment, a decline or
  a delivery exception, SUCCESS for everything else
- occurred_at: the provider's own timestamp, so a late or out-of-order delivery sorts where it happened
- source ``{provider, event_id}``; metadata ``webhook``: the request, redacted (``redaction``), and
  ``signature_verified`` with the raw body's size and SHA-256 (the raw body itself is kept nowhere)

>>> document = entry_document(PROVIDERS["stripe"], event, identity, request, received_at)
>>> NewEntry.model_validate(document)
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, Optional

from activitylog.entry import KEY_PART, EntryType, Status
from activitylog.webhooks.providers import Identity, Provider, fedex_scan, fedex_tracking_number
from activitylog.webhooks.redaction import scrub_text

# What an event is about, by the object a Stripe event carries (``data.object.object``) or the
# first word of a Square event type. FedEx pushes are always about a shipment.
ENTITY_TYPES = {
    "stripe": {
        "payment_intent": "payment", "charge": "payment", "refund": "payment", "invoice": "payment",
        "dispute": "payment", "checkout.session": "payment", "payout": "payment",
        "customer": "contact",
        "product": "product", "price": "product",
    },
    "square": {
        "payment": "payment", "refund": "payment", "invoice": "payment",
        "customer": "contact",
        "catalog": "product", "inventory": "product",
        "order.fulfillment": "fulfillment",
    },
}
# The status table: a failed payment, a decline or a delivery exception is WARNING (it may be
# retried or needs a look); succeeded, paid, delivered and everything else is SUCCESS.
WARNING_WORDS = ("payment_failed", "failed", "declined")
WARNING_OBJECT_STATUSES = ("failed", "declined")
FEDEX_EXCEPTIONS = ("DE", "SE", "DX")  # delivery exception, shipment exception, delivery exception (derived)

_FUTURE_SLACK = timedelta(minutes=4)  # inside the API's 5 minutes for occurred_at


def entry_document(provider: Provider, event: dict, identity: Identity, request: dict, received_at: datetime) -> dict:
    """The ``NewEntry`` document that records ``event`` (``request`` is redacted already)."""
    occurred = identity.occurred_at or received_at
    if occurred > received_at + _FUTURE_SLACK:  # a provider clock ahead of ours
        occurred = received_at
    entity = _entity(provider.name, event, identity)
    return {
        "type": EntryType.WEBHOOK.value,
        "status": status_of(provider.name, event, identity).value,
        "actor": {"kind": "external", "id": provider.name, "name": provider.display},
        "action": _action(provider.name, event, identity),
        "event": scrub_text(_event_label(provider.name, event, identity))[:300],
        "entity": entity,
        "occurred_at": occurred.isoformat(),
        "source": {"provider": provider.name, "event_id": source_event_id(identity.event_id)},
        "metadata": {"webhook": {
            "direction": "incoming",
            "provider": provider.name,
            "event_id": identity.event_id,
            "event_type": identity.event_type,
            "occurred_at": identity.occurred_at.isoformat() if identity.occurred_at else None,
            "received_at": received_at.isoformat(),
            # The receiver checked the signature on the raw bytes (request.body_sha256) before it queued this redacted copy.
            "signature_verified": True,
            "request": request,
        }},
    }


def source_event_id(event_id: str) -> str:
    """The event id an entry's ``source`` keeps (at most 255 characters), which names the event's marker too."""
    return event_id[:255]


def status_of(provider: str, event: dict, identity: Identity) -> Status:
    """The status table (README, "Webhooks"): WARNING for a failure, a decline or a delivery exception."""
    words = re.split(r"[._\s]+", identity.event_type.lower())
    if identity.event_type.lower().endswith("payment_failed") or any(word in WARNING_WORDS for word in words):
        return Status.WARNING
    if provider == "fedex":
        latest = fedex_scan(event).get("latestStatusDetail") or {}
        codes = {identity.event_type.upper(), str(latest.get("code", "")).upper(), str(latest.get("derivedCode", "")).upper()}
        described = f"{latest.get('description', '')} {latest.get('statusByLocale', '')}".lower()
        return Status.WARNING if codes & set(FEDEX_EXCEPTIONS) or "exception" in described else Status.SUCCESS
    status = str((_payload_object(provider, event) or {}).get("status", "")).lower()
    return Status.WARNING if status in WARNING_OBJECT_STATUSES else Status.SUCCESS


def _payload_object(provider: str, event: dict) -> Optional[dict]:
    """The object the event carries: Stripe's ``data.object``; Square's ``data.object.<type>``."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if provider == "stripe":
        found = data.get("object")
    else:
        objects = data.get("object") if isinstance(data.get("object"), dict) else {}
        found = objects.get(data.get("type")) or next((v for v in objects.values() if isinstance(v, dict)), None)
    return found if isinstance(found, dict) else None


def _entity(provider: str, event: dict, identity: Identity) -> Optional[dict]:
    if provider == "fedex":
        number = fedex_tracking_number(event)
        return _entity_of("fulfillment", number, f"FedEx {number}") if number else None
    found = _payload_object(provider, event) or {}
    if provider == "stripe":
        kind = ENTITY_TYPES["stripe"].get(str(found.get("object", "")))
        object_id = found.get("id")
    else:
        kind = next((entity for prefix, entity in sorted(ENTITY_TYPES["square"].items(), key=lambda item: -len(item[0]))
                     if identity.event_type == prefix or identity.event_type.startswith(prefix + ".")), None)
        object_id = (event.get("data") or {}).get("id") or found.get("id")
    if not kind or not object_id:
        return None
    return _entity_of(kind, str(object_id), _label(kind, found))


def _entity_of(kind: str, object_id: str, label: str) -> Optional[dict]:
    object_id = re.sub(r"[^A-Za-z0-9_.:@+=/-]", "_", object_id)[:128]
    if not re.fullmatch(KEY_PART, object_id):
        return None
    return {"type": kind, "id": object_id, "label": scrub_text(label)[:200]}


def _label(kind: str, found: dict) -> str:
    """A few words a person recognises the record by: an amount, a name."""
    if kind == "payment":
        money = found.get("amount_money") or found.get("amount")
        if isinstance(money, dict):  # Square: {"amount": 4200, "currency": "USD"}
            amount, currency = money.get("amount"), money.get("currency")
        else:
            amount, currency = money, found.get("currency")
        if isinstance(amount, int) and not isinstance(amount, bool) and currency:
            return f"{amount / 100:,.2f} {str(currency).upper()}"
    if kind == "contact":
        given = " ".join(str(found.get(k)) for k in ("given_name", "family_name") if found.get(k))
        return str(found.get("name") or given or found.get("email") or found.get("email_address") or "")
    return str(found.get("name") or found.get("description") or "")


def _event_label(provider: str, event: dict, identity: Identity) -> str:
    if provider == "fedex":
        latest = fedex_scan(event).get("latestStatusDetail") or {}
        description = latest.get("description") or latest.get("statusByLocale")
        return f"{identity.event_type} · {description}" if description else identity.event_type
    return identity.event_type


def _action(provider: str, event: dict, identity: Identity) -> str:
    """The verb: the event type's last word (``payment_intent.payment_failed`` → ``payment_failed``)."""
    if provider == "fedex":
        latest = fedex_scan(event).get("latestStatusDetail") or {}
        word = str(latest.get("description") or latest.get("statusByLocale") or "tracked")
    else:
        word = identity.event_type.rsplit(".", 1)[-1]
    word = re.sub(r"[^a-z0-9_]+", "_", word.lower()).strip("_")
    if not word or not word[0].isalpha():
        word = f"received_{word}".rstrip("_")
    return word[:64]


def redacted_request(delivery_headers: dict[str, str], body: bytes, url: str, method: str = "POST") -> dict[str, Any]:
    """What the entry keeps of the request: its method, URL, headers and body, redacted, and the raw body's size
    and SHA-256 (the bytes the signature was verified on, which nothing keeps)."""
    from activitylog.webhooks.redaction import redact_body, redact_headers, scrub_url

    return {"method": method, "url": scrub_url(url), "headers": redact_headers(delivery_headers), "body": redact_body(body),
            "body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest()}
