"""Signed tokens: a JSON payload and an HMAC of it and its context, URL-safe.

Page cursors (``query.cursor``) and export download links (``exports.links``) are both
``<payload>.<mac>`` in URL-safe base64. The context (an org and a filter digest, or a
purpose) is signed but not carried: a token only opens under the context it was sealed for.
The key is a ``Key``: one value signs, any value it still trusts verifies, so a rotated
secret does not break tokens already handed out (``config.make_cursor_key()``).

>>> token = seal(StaticKey(b"k"), ("org_1", "digest"), {"p": "01J…"})
>>> unseal(StaticKey(b"k"), token, ("org_1", "digest"))
{'p': '01J…'}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

MAC_BYTES = 18  # 144 bits: short tokens, far beyond guessing


class Key(Protocol):
    """A signing key: one value signs new tokens, any of a few verify them."""

    def signing_key(self) -> bytes: ...

    def verifying_keys(self) -> Iterable[bytes]:
        """The values a token may be signed with, most likely first; read lazily, as unseal stops at a match."""
        ...


@dataclass(frozen=True)
class StaticKey:
    """One fixed value (tests, a local ``CURSOR_SECRET``)."""

    key: bytes

    def signing_key(self) -> bytes:
        return self.key

    def verifying_keys(self) -> Iterable[bytes]:
        return (self.key,)


def seal(key: Key, context: Sequence[str], payload: dict) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_b64(_mac(key.signing_key(), context, body))}"


def unseal(key: Key, token: str, context: Sequence[str]) -> dict:
    """The payload of a token sealed under ``context`` with a value of ``key``; ``ValueError`` otherwise."""
    try:
        body, signature = token.split(".")
    except (AttributeError, ValueError):
        raise ValueError("not a signed token") from None
    if not any(hmac.compare_digest(signature, _b64(_mac(k, context, body))) for k in key.verifying_keys()):
        raise ValueError("signature")
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("payload") from None
    if not isinstance(payload, dict):
        raise ValueError("payload")
    return payload


def _mac(secret: bytes, context: Sequence[str], body: str) -> bytes:
    message = "\n".join((*context, body)).encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
