"""Opaque, signed page cursors.

A cursor holds the merge's position (the id of the last entry returned, or where the read
budget stopped: one id is a complete position for every branch of the merge, never a
DynamoDB key), the date window the first page
resolved, so "the last 24 hours" does not slide while a user pages, and when it was
issued: it pages for 24 hours, then is refused with a 400 saying it expired. It is
bound to the org and the filter set by an HMAC: a cursor replayed under another org,
another filter set, or edited by hand is refused with a 400 naming ``cursor``.

The key is a ``Key`` (``activitylog.signing``): it signs with one value and verifies with
any it still trusts, so a rotated secret does not break paging (``config.make_cursor_key()``).

>>> window = ("01JD0000000000000000000000", "01JDZZZZZZZZZZZZZZZZZZZZZZ")
>>> token = encode(StaticKey(b"k"), org="org_1", filter_digest="d1", position="01JDQ7Z9K3M5N7P9R1T3V5X7Z9", window=window)
>>> decode(StaticKey(b"k"), token, org="org_1", filter_digest="d1").position
'01JDQ7Z9K3M5N7P9R1T3V5X7Z9'
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

from activitylog.errors import BadRequest
from activitylog.ids import is_entry_id
from activitylog.signing import Key, StaticKey, seal, unseal

__all__ = ["Key", "StaticKey", "Position", "encode", "decode", "MAX_AGE_SECONDS"]

_VERSION = 2  # 2 added the issue time; a version 1 cursor is refused as invalid
# The payload's keys on the wire: one letter each to keep cursors short, and fixed, as
# cursors already issued must still decode.
_WIRE = {"version": "v", "position": "p", "window": "w", "issued": "t"}
MAX_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Position:
    position: str  # the next page holds ids strictly below it (the last id returned, or where a read budget stopped)
    low_id: str  # the window's inclusive lower id bound
    high_id: str  # the window's inclusive upper id bound (first page)


def encode(
    key: Key, org: str, filter_digest: str, position: str, window: tuple[str, str], now: Optional[float] = None
) -> str:
    issued = int(time.time() if now is None else now)
    fields = {"version": _VERSION, "position": position, "window": list(window), "issued": issued}
    return seal(key, (org, filter_digest), {_WIRE[name]: value for name, value in fields.items()})


def decode(key: Key, token: str, org: str, filter_digest: str, now: Optional[float] = None) -> Position:
    try:
        data = unseal(key, token, (org, filter_digest))
        position, (low, high), issued = data[_WIRE["position"]], data[_WIRE["window"]], data[_WIRE["issued"]]
        if (
            data.get(_WIRE["version"]) != _VERSION
            or not all(is_entry_id(x) for x in (position, low, high))
            or not isinstance(issued, int)
        ):
            raise ValueError("content")
    except (ValueError, KeyError, TypeError):
        raise BadRequest("cursor is invalid, or belongs to another filter set or organization", "cursor") from None
    # Only a verified cursor's issue time is believed.
    if (time.time() if now is None else now) - issued > MAX_AGE_SECONDS:
        raise BadRequest("cursor expired: cursors page for 24 hours; list again from the first page", "cursor")
    return Position(position, low, high)
