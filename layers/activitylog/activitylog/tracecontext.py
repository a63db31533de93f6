"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the ``traceparent`` a write carries,
kept as its entry's ``trace_id``/``span_id`` so the entry can be matched with the platform's traces.

A header that does not parse is ignored, as the spec says a receiver must (section 3.2.2.1: it
starts a new trace rather than refuse the request); an explicit ``trace_id``/``span_id`` in a
body is the writer's own field, so a bad one is a 400 naming it (``inputs``).

>>> parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7')
>>> parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01") is None
True
"""

from __future__ import annotations

import re
from typing import Optional

# Lowercase hex (the patterns a schema can state); all zeros is the spec's invalid id (``valid_id``).
TRACE_ID = r"^[0-9a-f]{32}$"
SPAN_ID = r"^[0-9a-f]{16}$"
HEADER = "traceparent"

# version 00: exactly four fields. A later version may append fields after the flags ("-..."),
# and the receiver reads the first four; version ff is invalid.
_PARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


def parse_traceparent(value: Optional[str]) -> Optional[tuple[str, str]]:
    """``(trace_id, span_id)`` of a valid ``traceparent`` value, else None (absent or invalid: ignored)."""
    if not value:
        return None
    found = _PARENT.match(value.strip(" \t"))
    if not found:
        return None
    version, trace_id, span_id, _flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if not valid_id(trace_id, TRACE_ID) or not valid_id(span_id, SPAN_ID):
        return None
    return trace_id, span_id


def valid_id(value: str, pattern: str) -> bool:
    """A trace or parent id: ``pattern`` (``TRACE_ID``, ``SPAN_ID``) and not all zeros."""
    return bool(re.match(pattern, value)) and value.strip("0") != ""


def traceparent(trace_id: str, span_id: str) -> str:
    """The header value that passes ``(trace_id, span_id)`` on (sampled flag unset: we do not decide sampling)."""
    return f"00-{trace_id}-{span_id}-00"


def from_headers(headers: Optional[dict]) -> Optional[tuple[str, str]]:
    """The trace of an HTTP request's headers (names are case-insensitive)."""
    return parse_traceparent(header_value(headers))


def header_value(headers: Optional[dict]) -> Optional[str]:
    """The ``traceparent`` header's value as sent, if any."""
    return next((value for name, value in (headers or {}).items() if name.lower() == HEADER), None)
