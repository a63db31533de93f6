"""FedEx: ``fdx-signature`` = base64(HMAC-SHA256(security token, raw body)).

A push follows the Track API's response (``trackResults[0]``). FedEx documents no event id: a
push is named by what it reports, this tracking number's status at this scan time, as written
(the same push delivered again names the same event). It is always about a shipment.

Missed events: FedEx has no API that lists them. Its own retry does the recovery: a push not answered
200 or 202 is retried 3 times over 15 minutes, 5 minutes apart, then kept in the project's missed
events queue for 7 days, which re-sends them to the destination URL when the retry process is started
on the Advanced Integrated Visibility webhook project (FedEx Developer Portal, "Monitoring Failures
and Retry Mechanism"). They come in through the webhook URL, recorded once like any delivery.

>>> event = provider.sample_event("fx_1", "DE", tracking_number="612345678901")
>>> provider.status(event, provider.read(event)).value, provider.event_label(event, provider.read(event))
('WARNING', 'DE · Delivery exception')
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Optional

from activitylog.entry import Status
from activitylog.webhooks.providers.base import (
    Delivery,
    Identity,
    Provider,
    Rejected,
    hmac_base64,
    iso,
    signature_matches,
    type_says_warning,
)

EXCEPTIONS = ("DE", "SE", "DX")  # delivery exception, shipment exception, delivery exception (derived)


class FedEx(Provider):
    name, display, signature_header = "fedex", "FedEx", "fdx-signature"
    sample_types = ("IT", "DL", "DE", "PU")
    recovery_elsewhere = (
        "not available for FedEx: it has no API listing missed events. Its missed events wait 7 days in FedEx's "
        "own queue (after 3 retries over 15 minutes); re-send them there: start the retry process on your "
        "Advanced Integrated Visibility webhook project in the FedEx Developer Portal"
    )

    def check(self, delivery: Delivery, secret: str) -> None:
        if not signature_matches(hmac_base64(secret, delivery.body), delivery.headers[self.signature_header]):
            raise Rejected("signature does not match", self.signature_header)

    def read(self, event: dict) -> Identity:
        latest = _scan(event).get("latestStatusDetail") or {}
        event_type = event.get("eventType") or latest.get("derivedCode") or latest.get("code")
        scans = _scan(event).get("scanEvents") or [{}]
        when = scans[0].get("date") or event.get("eventCreateTime")
        number = _tracking_number(event)
        event_id = f"{number}:{event_type}:{when}" if number and event_type and when else ""
        return Identity(event_id, str(event_type or ""), iso(when))

    def status(self, event: dict, identity: Identity) -> Status:
        if type_says_warning(identity.event_type):
            return Status.WARNING
        latest = _scan(event).get("latestStatusDetail") or {}
        codes = {
            identity.event_type.upper(),
            str(latest.get("code", "")).upper(),
            str(latest.get("derivedCode", "")).upper(),
        }
        described = f"{latest.get('description', '')} {latest.get('statusByLocale', '')}".lower()
        return Status.WARNING if codes & set(EXCEPTIONS) or "exception" in described else Status.SUCCESS

    def entity(self, event: dict, identity: Identity) -> Optional[dict]:
        number = _tracking_number(event)
        return {"type": "fulfillment", "id": number, "label": f"FedEx {number}"} if number else None

    def event_label(self, event: dict, identity: Identity) -> str:
        """Its status code and description: ``DE · Delivery exception``."""
        description = _description(event)
        return f"{identity.event_type} · {description}" if description else identity.event_type

    def action_word(self, event: dict, identity: Identity) -> str:
        return str(_description(event) or "tracked")

    def sign(self, secret: str, body: bytes, url: str, timestamp: Optional[int] = None) -> dict[str, str]:
        return {self.signature_header: hmac_base64(secret, body)}

    def sample_event(
        self, event_id: str, event_type: str, occurred_at: Optional[datetime] = None, **fields: Any
    ) -> dict:
        """A tracking push in the Track API's shape, ``event_type`` its status code. FedEx names no event:
        each ``event_id`` gets its own tracking number unless one is given (``tracking_number``)."""
        when = (occurred_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        number = fields.pop(
            "tracking_number", str(7940_0000_0000 + int(hashlib.sha1(event_id.encode()).hexdigest()[:8], 16) % 10**8)
        )
        description = fields.pop(
            "description",
            {"DL": "Delivered", "DE": "Delivery exception", "IT": "In transit"}.get(event_type, event_type),
        )
        return {
            "trackingNumber": number,
            "eventCreateTime": when.isoformat().replace("+00:00", "Z"),
            "trackResults": [
                {
                    "trackingNumberInfo": {"trackingNumber": number},
                    "latestStatusDetail": {"code": event_type, "derivedCode": event_type, "description": description},
                    "scanEvents": [
                        {"date": when.isoformat(), "eventType": event_type, "eventDescription": description}
                    ],
                }
            ],
        } | fields


def _scan(event: dict) -> dict:
    """The tracking result a push is about (its payload follows the Track API's response)."""
    results = event.get("trackResults") or [{}]
    return results[0] if isinstance(results[0], dict) else {}


def _tracking_number(event: dict) -> Optional[str]:
    number = event.get("trackingNumber") or (_scan(event).get("trackingNumberInfo") or {}).get("trackingNumber")
    return str(number) if number else None


def _description(event: dict) -> Optional[str]:
    latest = _scan(event).get("latestStatusDetail") or {}
    return latest.get("description") or latest.get("statusByLocale")


provider = FedEx()
