"""Opaque, signed page cursors.

A cursor holds the merge's position (the id of the last entry returned, or where the read
budget stopped: one id is a complete position for every branch of the merge, never a
DynamoDB key), the date window the first page
resolved, so "the last 24 hours" does not slide while a user pages, and when it was
issued: it pages for 24 hours, then is refused with a 400 saying it expired. It is
bound to the org and the filter set by an HMAC: a cursor replayed under another org,
another filter set, or edited by hand is refused with a 400 naming ``cursor``.

The key is a ``Key``: it signs with one value and verifies with any it still trusts,
so a rotated secret does not break paging (``config.make_cursor_key()``).

>>> token = encode(StaticKey(b"k"), org="org_1", filter_digest=f.digest(), position=last_id, window=(lo, hi))
>>> decode(StaticKey(b"k"), token, org="org_1", filter_digest=f.digest()).position
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Iterable, Optional, Protocol

from activitylog.errors import BadRequest
from activitylog.ids import is_entry_id

_VERSION = 2  # 2 added the issue time; a version 1 cursor is refused as invalid
# The payload's keys on the wire: one letter each to keep cursors short, and fixed, as
# cursors already issued must still decode.
_WIRE = {"version": "v", "position": "p", "window": "w", "issued": "t"}
MAX_AGE_SECONDS = 24 * 3600


class Key(Protocol):
    """A cursor key: one value signs new cursors, any of a few verify them."""

    def signing_key(self) -> bytes: ...

    def verifying_keys(self) -> Iterable[bytes]:
        """The values a cursor may be signed with, most likely first; read lazily, as decode stops at a match."""
        ...


@dataclass(frozen=True)
class StaticKey:
    """One fixed value (tests, the local ``CURSOR_SECRET``)."""

    key: bytes

    def signing_key(self) -> bytes:
        return self.key

    def verifying_keys(self) -> Iterable[bytes]:
        return (self.key,)


@dataclass(frozen=True)
class Position:
    position: str  # the next page holds ids strictly below it (the last id returned, or where a read budget stopped)
    low_id: str  # the window's inclusive lower id bound
    high_id: str  # the window's inclusive upper id bound (first page)


def encode(key: Key, org: str, filter_digest: str, position: str, window: tuple[str, str], now: Optional[float] = None) -> str:
    issued = int(time.time() if now is None else now)
    fields = {"version": _VERSION, "position": position, "window": list(window), "issued": issued}
    payload = json.dumps({_WIRE[name]: value for name, value in fields.items()}, separators=(",", ":")).encode()
    body = _b64(payload)
    return f"{body}.{_b64(_mac(key.signing_key(), org, filter_digest, body))}"


def decode(key: Key, token: str, org: str, filter_digest: str, now: Optional[float] = None) -> Position:
    try:
        body, signature = token.split(".")
        if not any(hmac.compare_digest(signature, _b64(_mac(k, org, filter_digest, body))) for k in key.verifying_keys()):
            raise ValueError("signature")
        data = json.loads(_unb64(body))
        position, (low, high), issued = data[_WIRE["position"]], data[_WIRE["window"]], data[_WIRE["issued"]]
        if data.get(_WIRE["version"]) != _VERSION or not all(is_entry_id(x) for x in (position, low, high)) or not isinstance(issued, int):
            raise ValueError("content")
    except (ValueError, KeyError, TypeError):
        raise BadRequest("cursor is invalid, or belongs to another filter set or organization", "cursor") from None
    # Only a verified cursor's issue time is believed.
    if (time.time() if now is None else now) - issued > MAX_AGE_SECONDS:
        raise BadRequest("cursor expired: cursors page for 24 hours; list again from the first page", "cursor")
    return Position(position, low, high)


def _mac(secret: bytes, org: str, filter_digest: str, body: str) -> bytes:
    message = "\n".join((org, filter_digest, body)).encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:18]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
