"""Field-level changes between two versions of a record.

>>> changes({"name": "Alex", "address": {"city": "Napa"}}, {"name": "Alex", "address": {"city": "Sonoma"}})
{'address.city': {'before': 'Napa', 'after': 'Sonoma'}}
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{dotted.path: {before, after}}`` for every leaf that differs; unchanged fields are left out.

    Nested objects are walked; lists and scalars compare whole. A field present on one
    side only shows ``None`` on the other.
    """
    result: dict[str, dict[str, Any]] = {}
    _walk(before or {}, after or {}, "", result)
    return result


def _walk(before: Any, after: Any, prefix: str, out: dict) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            _walk(before.get(key, _MISSING), after.get(key, _MISSING), path, out)
        return
    if before != after:
        out[prefix] = {
            "before": None if before is _MISSING else before,
            "after": None if after is _MISSING else after,
        }
