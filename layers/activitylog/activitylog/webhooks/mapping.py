"""A verified provider event as a WEBHOOK entry: the rows the Activity Logs page shows.

What is the same for every provider is here; what differs is the provider's (``providers/``):

- type WEBHOOK; actor ``{external, <provider.name>, <provider.display>}``
- event: ``provider.event_label`` (the event type; FedEx: its status code and description)
- action: ``provider.action_word`` as a verb (the type's last word: ``succeeded``, ``payment_failed``)
- entity: ``provider.entity``, its id made a key part and its label redacted: payment for payment
  intents, charges, refunds and invoices; product for catalog and inventory; fulfillment for
  shipments and tracking; contact for customers; none for anything else
- status: ``provider.status`` (the table in the README): WARNING for a failed payment, a decline
  or a delivery exception, SUCCESS for everything else
- occurred_at: the provider's own timestamp, so a late or out-of-order delivery sorts where it happened
- source ``{provider, event_id}``; metadata ``webhook``: the request, redacted (``redaction``), and
  ``signature_verified`` with the raw body's size and SHA-256 (the raw body itself is kept nowhere)

>>> from datetime import timezone
>>> from activitylog.webhooks.providers import PROVIDERS
>>> stripe, received_at = PROVIDERS["stripe"], datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
>>> event = stripe.sample_event("evt_1", "payment_intent.payment_failed", occurred_at=received_at)
>>> document = entry_document(stripe, event, stripe.read(event), {}, received_at)  # a NewEntry's document
>>> document["status"], document["event"], document["entity"]["type"], document["source"]
('WARNING', 'payment_intent.payment_failed', 'payment', {'provider': 'stripe', 'event_id': 'evt_1'})
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, Optional

from activitylog.entry import KEY_PART, EntryType
from activitylog.redaction import scrub_text
from activitylog.webhooks.providers import SIGNATURE_HEADERS, Identity, Provider

_FUTURE_SLACK = timedelta(minutes=4)  # inside the API's 5 minutes for occurred_at


def entry_document(provider: Provider, event: dict, identity: Identity, request: dict, received_at: datetime) -> dict:
    """The ``NewEntry`` document that records ``event`` (``request`` is redacted already)."""
    occurred = identity.occurred_at or received_at
    if occurred > received_at + _FUTURE_SLACK:  # a provider clock ahead of ours
        occurred = received_at
    return {
        "type": EntryType.WEBHOOK.value,
        "status": provider.status(event, identity).value,
        "actor": {"kind": "external", "id": provider.name, "name": provider.display},
        "action": _action(provider.action_word(event, identity)),
        "event": scrub_text(provider.event_label(event, identity))[:300],
        "entity": _entity_of(provider.entity(event, identity)),
        "occurred_at": occurred.isoformat(),
        "source": {"provider": provider.name, "event_id": source_event_id(identity.event_id)},
        "metadata": {
            "webhook": {
                "direction": "incoming",
                "provider": provider.name,
                "event_id": identity.event_id,
                "event_type": identity.event_type,
                "occurred_at": identity.occurred_at.isoformat() if identity.occurred_at else None,
                "received_at": received_at.isoformat(),
                # The receiver checked the signature on the raw bytes (request.body_sha256) before it queued this redacted copy.
                "signature_verified": True,
                "request": request,
            }
        },
    }


def source_event_id(event_id: str) -> str:
    """The event id an entry's ``source`` keeps (at most 255 characters), which names the event's marker too."""
    return event_id[:255]


def _entity_of(found: Optional[dict]) -> Optional[dict]:
    """The provider's entity with an id the keys take and a label without secrets (or None)."""
    if not found:
        return None
    object_id = re.sub(r"[^A-Za-z0-9_.:@+=/-]", "_", found["id"])[:128]
    if not re.fullmatch(KEY_PART, object_id):
        return None
    return {"type": found["type"], "id": object_id, "label": scrub_text(found["label"])[:200]}


def _action(word: str) -> str:
    """The provider's verb as an action: lower case, ``[a-z0-9_]``, starting with a letter."""
    word = re.sub(r"[^a-z0-9_]+", "_", word.lower()).strip("_")
    if not word or not word[0].isalpha():
        word = f"received_{word}".rstrip("_")
    return word[:64]


def redacted_request(delivery_headers: dict[str, str], body: bytes, url: str, method: str = "POST") -> dict[str, Any]:
    """What the entry keeps of the request: its method, URL, headers and body, redacted, and the raw body's size
    and SHA-256 (the bytes the signature was verified on, which nothing keeps)."""
    from activitylog.redaction import redact_body, redact_headers, scrub_url

    return {
        "method": method,
        "url": scrub_url(url),
        "headers": redact_headers(delivery_headers, SIGNATURE_HEADERS),
        "body": redact_body(body),
        "body_bytes": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
