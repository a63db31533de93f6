"""Acme Logistics, a fake fourth webhook provider: one module, as the README's "Adding a provider" says.

Acme signs ``x-acme-mac`` = hex(HMAC-SHA256(secret, timestamp + "." + raw body)) with the
timestamp in ``x-acme-timestamp``; its events name themselves (``uuid``) and carry one shipment.
The header's name is no signature-like word on purpose: only the register keeps it out of entries.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

from activitylog.entry import Status
from activitylog.webhooks.providers.base import Delivery, Identity, Provider, Rejected, iso, type_says_warning


class Acme(Provider):
    name, display, signature_header = "acme", "Acme", "x-acme-mac"
    sample_types = ("shipment.dispatched", "shipment.lost")

    def check(self, delivery: Delivery, secret: str) -> None:
        sent_at = delivery.headers.get("x-acme-timestamp", "")
        expected = _mac(secret, sent_at, delivery.body)
        if not hmac.compare_digest(expected, delivery.headers[self.signature_header].strip()):
            raise Rejected("signature does not match", self.signature_header)

    def read(self, event: dict) -> Identity:
        return Identity(str(event["uuid"]), str(event["kind"]), iso(event.get("at")))

    def status(self, event: dict, identity: Identity) -> Status:
        lost = identity.event_type.endswith(".lost")
        return Status.WARNING if lost or type_says_warning(identity.event_type) else Status.SUCCESS

    def entity(self, event: dict, identity: Identity) -> Optional[dict]:
        shipment = event.get("shipment") or {}
        return {"type": "fulfillment", "id": str(shipment["ref"]), "label": f"Acme {shipment['ref']}"} if shipment.get("ref") else None

    def sign(self, secret: str, body: bytes, url: str, timestamp: Optional[int] = None) -> dict[str, str]:
        sent_at = str(timestamp or int(time.time()))
        return {"x-acme-timestamp": sent_at, self.signature_header: _mac(secret, sent_at, body)}

    def sample_event(self, event_id: str, event_type: str, occurred_at: Optional[datetime] = None, **fields: Any) -> dict:
        when = (occurred_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return {"uuid": event_id or str(uuid.uuid4()), "kind": event_type, "at": when.isoformat(),
                "shipment": {"ref": f"ACME-{hashlib.sha1(event_id.encode()).hexdigest()[:8].upper()}"} | fields}


def _mac(secret: str, sent_at: str, body: bytes) -> str:
    return hmac.new(secret.encode(), sent_at.encode() + b"." + body, hashlib.sha256).hexdigest()


provider = Acme()
