"""Opaque, signed page cursors.

A cursor holds the id of the last entry actually returned (a complete position for
every branch of the merge, never a DynamoDB key) and the date window the first page
resolved, so "the last 24 hours" does not slide while a user pages. It is bound to the
org and the filter set by an HMAC: a cursor replayed under another org, another filter
set, or edited by hand is refused with a 400 naming ``cursor``.

>>> token = encode(secret, org="org_1", filter_digest=f.digest(), position=last_id, window=(lo, hi))
>>> decode(secret, token, org="org_1", filter_digest=f.digest()).position
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from activitylog.errors import BadRequest
from activitylog.ids import is_entry_id

_VERSION = 1


@dataclass(frozen=True)
class Position:
    position: str  # the last id returned
    low_id: str  # the window's inclusive lower id bound
    high_id: str  # the window's inclusive upper id bound (first page)


def encode(secret: bytes, org: str, filter_digest: str, position: str, window: tuple[str, str]) -> str:
    payload = json.dumps({"v": _VERSION, "p": position, "w": list(window)}, separators=(",", ":")).encode()
    body = _b64(payload)
    return f"{body}.{_b64(_mac(secret, org, filter_digest, body))}"


def decode(secret: bytes, token: str, org: str, filter_digest: str) -> Position:
    try:
        body, signature = token.split(".")
        expected = _b64(_mac(secret, org, filter_digest, body))
        if not hmac.compare_digest(signature, expected):
            raise ValueError("signature")
        data = json.loads(_unb64(body))
        position, (low, high) = data["p"], data["w"]
        if data.get("v") != _VERSION or not all(is_entry_id(x) for x in (position, low, high)):
            raise ValueError("content")
    except (ValueError, KeyError, TypeError):
        raise BadRequest("cursor is invalid, or belongs to another filter set or organization", "cursor") from None
    return Position(position, low, high)


def _mac(secret: bytes, org: str, filter_digest: str, body: str) -> bytes:
    message = "\n".join((org, filter_digest, body)).encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:18]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
