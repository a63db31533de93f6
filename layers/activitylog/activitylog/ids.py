"""Entry ids are ULIDs: 48 bits of milliseconds, then 80 random bits, in Crockford base32.

Because the id starts with the time, "newest first" is a reverse range query on the
id and a date range is a pair of id bounds. The id also *is* ``occurred_at``: it is
minted from it, so the time is never stored twice.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

from activitylog.errors import BadRequest

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
LOWEST_ID = "0" * 26
HIGHEST_ID = "7" + "Z" * 25


def new_id(occurred_at: datetime) -> str:
    """Mint an entry id whose time part is ``occurred_at`` (millisecond precision)."""
    from ulid import ULID  # writes only: reads decode ids themselves and skip its import

    return str(ULID.from_timestamp(occurred_at.timestamp()))


def derived_id(occurred_at: datetime, key: str) -> str:
    """The id of an entry that must exist once: its time part ``occurred_at``, its 80 random bits
    a hash of ``key`` (a provider and its event id), so every delivery of an event mints the same id.

    >>> derived_id(datetime(2026, 1, 1, tzinfo=timezone.utc), "stripe:evt_1") == derived_id(datetime(2026, 1, 1, tzinfo=timezone.utc), "stripe:evt_1")
    True
    """
    from ulid import ULID

    milliseconds = int(occurred_at.timestamp() * 1000)
    return str(ULID.from_bytes(milliseconds.to_bytes(6, "big") + hashlib.sha256(key.encode()).digest()[:10]))


def is_entry_id(value: str) -> bool:
    return bool(_ID_RE.fullmatch(value or ""))  # not match(): '$' also matches before a trailing newline


def check_entry_id(value: str, field: str = "id") -> str:
    if not is_entry_id(value):
        raise BadRequest(f"{field} must be a 26-character ULID entry id", field)
    return value


def can_exist(entry_id: str) -> bool:
    """Whether an entry can have this id: its time part is a moment a datetime holds (up to the year 9999).
    The pattern also takes ids up to 7ZZZ… (the year 10889), which no entry has and ``occurred_at`` cannot decode.

    >>> can_exist("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), can_exist("01JDQ7Z9K3M5N7P9R1T3V5X7Z9")
    (False, True)
    """
    return _decode(entry_id[:10]) <= _LATEST_MS


def occurred_at(entry_id: str) -> datetime:
    """The time part of an id, as an aware UTC datetime."""
    return datetime.fromtimestamp(_decode(entry_id[:10]) / 1000, timezone.utc)


def lower_bound(moment: datetime) -> str:
    """The smallest id that can have been minted at ``moment``."""
    return _time_part(moment) + "0" * 16


def upper_bound(moment: datetime) -> str:
    """The largest id that can have been minted at ``moment``."""
    return _time_part(moment) + "Z" * 16


def before(entry_id: str) -> str:
    """The id immediately before ``entry_id``: the inclusive bound for "older than"."""
    value = _decode(entry_id) - 1
    if value < 0:
        return LOWEST_ID
    return _encode(value)


def after(entry_id: str) -> str:
    """The id immediately after ``entry_id``: the exclusive bound for "at or older than"."""
    return _encode(min(_decode(entry_id) + 1, _decode(HIGHEST_ID)))


def _time_part(moment: datetime) -> str:
    ms = int(moment.astimezone(timezone.utc).timestamp() * 1000)
    ms = min(max(ms, 0), (1 << 48) - 1)
    return _encode(ms, 10)


_VALUES = {char: index for index, char in enumerate(_ALPHABET)}
_LATEST_MS = (
    int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()) * 1000
)  # decodable whatever the float rounding


def _decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + _VALUES[char]
    return value


def _encode(value: int, width: int = 26) -> str:
    chars = []
    for _ in range(width):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
