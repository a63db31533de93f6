"""What a webhook provider is: the contract each module under ``providers/`` fulfils.

A provider module defines one ``Provider`` subclass and an instance of it named ``provider``:

- ``name``, ``display``, ``signature_header``: the URL's path part and the actor, the header it signs in
  (erased from what the entry keeps, with any other of ``secret_headers``)
- ``check``: raise ``Rejected`` unless a delivery is signed with the org's secret
- ``read``: an event's identity (id, type, time): exactly one entry per id
- ``status``, ``entity``, ``event_label``, ``action_word``: what the WEBHOOK entry shows (``mapping``)
- ``sign``, ``sample_event`` and ``new_secret``: how the provider signs a delivery, what its events
  and secrets look like, so tests, the benchmark and the demo send what the provider sends
- optionally, missed events (``recovery``): ``recovery_days`` and ``missed_events``, the events its own
  API still lists for the org's account; or ``recovery_elsewhere``, what to do where it has no such API

Every check refuses with ``Rejected`` and a short reason the 400 answers with.

>>> from activitylog.webhooks.providers import PROVIDERS
>>> fedex = PROVIDERS["fedex"]
>>> body = json.dumps(fedex.sample_event("fx_1", "DL", tracking_number="612345678901")).encode()
>>> headers = fedex.sign("token", body, "https://hooks.example.com/webhooks/fedex/org_1")
>>> fedex.verify(Delivery("fedex", "org_1", body, headers, "https://hooks.example.com/webhooks/fedex/org_1"), "token")
>>> fedex.identity(body)[1].event_id[:18]
'612345678901:DL:20'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from activitylog.entry import Status

# The status table (README, "Webhooks"): an event type naming a failure or a decline is a WARNING
# whatever its payload says; each provider adds what its payloads say (a status, an exception code).
WARNING_WORDS = ("payment_failed", "failed", "declined")


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


class Provider:
    """One provider; a module under ``providers/`` subclasses it and is named in the register."""

    name: str  # the URL's path part and the actor id: stripe
    display: str  # the actor's name: Stripe
    signature_header: str  # lower case
    sample_types: tuple[str, ...] = ()  # event types ``sample_event`` shapes well (the benchmark's mix)

    @property
    def secret_headers(self) -> tuple[str, ...]:
        """Headers (lower case) an entry never keeps: the signature, and any other the provider signs with."""
        return (self.signature_header,)

    # --- what the receiver asks ----------------------------------------------------------------

    def check(self, delivery: Delivery, secret: str) -> None:
        """Raise ``Rejected`` unless the signature (present, ASCII) matches ``secret``."""
        raise NotImplementedError

    def read(self, event: dict) -> Identity:
        """The event's identity; may raise ``KeyError``, ``TypeError``, ``ValueError`` on a body that is no event."""
        raise NotImplementedError

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

    # --- what the entry shows (``mapping.entry_document``) ---------------------------------------

    def status(self, event: dict, identity: Identity) -> Status:
        """WARNING for a failure, a decline or an exception; SUCCESS for everything else."""
        return Status.WARNING if type_says_warning(identity.event_type) else Status.SUCCESS

    def entity(self, event: dict, identity: Identity) -> Optional[dict]:
        """What the event is about, ``{type, id, label}`` (the mapping cleans the id and label), or None."""
        return None

    def event_label(self, event: dict, identity: Identity) -> str:
        """The entry's ``event``: the provider's event type unless the provider says more."""
        return identity.event_type

    def action_word(self, event: dict, identity: Identity) -> str:
        """The verb: the event type's last word (``payment_intent.payment_failed`` → ``payment_failed``)."""
        return identity.event_type.rsplit(".", 1)[-1]

    # --- missed events (``recovery``): what the provider's own API still lists ---------------------

    recovery_days: Optional[int] = None  # how far back its API lists events; None: it has no such API
    recovery_elsewhere: str = ""  # where there is none: where its missed events wait instead
    api_base: str = ""  # its API's address (tests and the local stack point it at a fake)

    def missed_events(
        self, api_key: str, start: datetime, end: datetime, api_base: Optional[str] = None
    ) -> Iterator[dict]:
        """The events of the org's account created between ``start`` and ``end`` (inclusive) that may not
        have reached us, as its webhooks carry them; ``Rejected`` naming ``provider`` when the provider
        refuses the key, ``ConnectionError`` when it does not answer."""
        raise NotImplementedError

    # --- what tests, the benchmark and the demo send ---------------------------------------------

    def sign(self, secret: str, body: bytes, url: str, timestamp: Optional[int] = None) -> dict[str, str]:
        """The signature header(s) the provider sends with ``body`` delivered to ``url``."""
        raise NotImplementedError

    def sample_event(
        self, event_id: str, event_type: str, occurred_at: Optional[datetime] = None, **fields: Any
    ) -> dict:
        """An event as the provider sends it; ``fields`` go into the object it carries."""
        raise NotImplementedError

    def new_secret(self) -> str:
        """A signing secret shaped like the provider's (the local stack's demo org gets one)."""
        return secrets.token_hex(16)


def type_says_warning(event_type: str) -> bool:
    """Whether the event type itself names a failure or a decline (``invoice.payment_failed``, ``charge.failed``)."""
    words = re.split(r"[._\s]+", event_type.lower())
    return event_type.lower().endswith("payment_failed") or any(word in WARNING_WORDS for word in words)


WARNING_OBJECT_STATUSES = ("failed", "declined")


def status_by_type_or_object(event_type: str, found: Optional[dict]) -> Status:
    """WARNING when the event type names a failure or the object it carries says ``failed`` or ``declined``
    (Stripe's and Square's payments); SUCCESS otherwise."""
    if type_says_warning(event_type):
        return Status.WARNING
    status = str((found or {}).get("status", "")).lower()
    return Status.WARNING if status in WARNING_OBJECT_STATUSES else Status.SUCCESS


def hmac_base64(key: str, message: bytes) -> str:
    """base64(HMAC-SHA256(key, message)): Square's and FedEx's signatures."""
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def signature_matches(expected: str, sent: str) -> bool:
    return hmac.compare_digest(expected.encode(), sent.strip().encode())


def describe(kind: str, found: dict) -> str:
    """A few words a person recognises a record by: an amount, a name."""
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


def epoch(value: Any) -> Optional[datetime]:
    """A time given in seconds since the epoch (Stripe's ``created``), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def iso(value: Any) -> Optional[datetime]:
    """A zoned ISO 8601 time (Square's ``created_at``, FedEx's scan time), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else None
