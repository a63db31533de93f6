"""A write's body, strictly: at most a size limit in bytes, JSON by media type, UTF-8, one object.

API Gateway hands the body over as text or base64; Powertools would decode it leniently,
parse NaN and 1e400 into floats no JSON parser reads back, keep the first element of a
top-level array, and fail with a 500 on bytes that are not UTF-8 or on deep nesting.
Everything here refuses instead, with a 4xx naming the field. No pydantic: the API
handler builds its resolver with ``loads`` at import, on the read path too.

>>> loads('{"metadata": {"processed": 10}}')
{'metadata': {'processed': 10}}
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any, Mapping, Optional

from activitylog.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_DEPTH = 32  # nesting levels of a whole body; entries themselves allow fewer (inputs.MAX_DEPTH)
MAX_INT_DIGITS = 38  # DynamoDB's number precision; more digits would be rounded somewhere
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's \ud800 escape: not a character, not storable


def body_text(event: Mapping[str, Any], limit: int) -> Optional[str]:
    """The body of a payload-v2 event as text, checked in this order: size in bytes (413),
    media type ``application/json`` (415), UTF-8 (400). ``None`` when there is no body."""
    body = event.get("body")
    if not body:
        return None
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body is marked base64-encoded but is not base64", "body") from None
    else:
        try:
            data = body.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("body is not UTF-8 text", "body") from None
    if len(data) > limit:
        raise PayloadTooLarge(f"body is {len(data)} bytes; the limit is {limit}", "body")
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    _check_media_type(headers.get("content-type"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"body is not UTF-8 (byte {error.start} is {data[error.start]:#04x})", "body") from None


def loads(text: str) -> dict:
    """Parse a body that must be one JSON object: finite numbers, at most MAX_INT_DIGITS digits
    in an integer, at most MAX_DEPTH levels deep, no lone surrogate escapes."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_int=_integer, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise BadRequest(
            f"body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})", "body"
        ) from None
    except RecursionError:
        raise BadRequest(f"body nests deeper than {MAX_DEPTH} levels", "body") from None
    if not isinstance(value, dict):
        raise BadRequest(f"body must be a JSON object, not {_kind(value)}", "body")
    path = deeper_than(value, MAX_DEPTH)
    if path is not None:
        raise BadRequest(f"body nests deeper than {MAX_DEPTH} levels (at {_dotted(path)})", "body")
    return value


def deeper_than(value: Any, limit: int) -> Optional[list]:
    """The path to the first container nested more than ``limit`` levels deep (``value`` is level
    1), or None. Iterative, so no depth can exhaust the stack. Also refuses lone surrogates."""
    stack: list[tuple[Any, int, list]] = [(value, 1, [])]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                raise BadRequest(
                    f"{_dotted(path) or 'body'} holds a lone surrogate (\\ud800-\\udfff), which is not text",
                    _dotted(path) or "body",
                )
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            return path
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                raise BadRequest(
                    f"a key of {_dotted(path) or 'body'} holds a lone surrogate, which is not text",
                    _dotted(path) or "body",
                )
            stack.append((child, depth + 1, path + [key]))
    return None


def _check_media_type(content_type: Optional[str]) -> None:
    media_type, *parameters = (content_type or "").split(";")
    if media_type.strip().lower() != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {content_type or 'missing'!r}", "content-type"
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"the body must be UTF-8, not charset {value.strip()!r}", "content-type")


def _no_constant(name: str) -> Any:
    raise BadRequest(f"body holds {name}, which is not a JSON number", "body")


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise BadRequest(f"body holds an integer of {len(digits.lstrip('-'))} digits; at most {MAX_INT_DIGITS}", "body")
    return int(digits)


def _finite(text: str) -> float:
    value = float(text)
    # 1e400 would be stored as Infinity, 1e-400 as 0: neither is what was sent.
    if not math.isfinite(value) or (value == 0 and re.search("[1-9]", text.lower().partition("e")[0])):
        raise BadRequest(f"body holds the number {text[:40]}, which is out of range", "body")
    return value


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _dotted(path: list) -> str:
    return ".".join(str(part) for part in path[:8]) + ("…" if len(path) > 8 else "")
