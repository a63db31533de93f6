"""Field-level changes between two versions of a record, keyed by JSON Pointer (RFC 6901).

>>> changes({"name": "Alex", "address": {"city": "Napa"}}, {"name": "Alex", "address": {"city": "Sonoma"}, "vip": True})
{'/address/city': {'before': 'Napa', 'after': 'Sonoma'}, '/vip': {'after': True}}

Each change is one JSON Patch operation (RFC 6902) on ``before``:

- ``{"before": x, "after": y}``: the value was replaced (``null`` is a value like any other);
- ``{"after": y}``: the field was absent before (added);
- ``{"before": x}``: the field is absent after (removed).

Nested objects are walked, so no two fields share a path: ``{"a.b": 1}`` is ``/a.b``,
``{"a": {"b": 1}}`` is ``/a/b``, ``{"a/b": 1}`` is ``/a~1b`` and ``{"~": 1}`` is ``/~0``.
Arrays and scalars compare whole. Values compare as JSON, not as Python: ``true`` is
not ``1`` and ``0`` is not ``false``; numbers compare by value, as RFC 6902's ``test``
operation does, so ``1`` and ``1.0`` are the same number and no change.
"""

from __future__ import annotations

from typing import Any

from jsonpointer import JsonPointer, JsonPointerException

_MISSING = object()


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{pointer: {before?, after?}}`` for every leaf that differs; unchanged fields are left out.

    >>> changes({"a": None, "n": 0}, {"n": False})
    {'/a': {'before': None}, '/n': {'before': 0, 'after': False}}
    """
    result: dict[str, dict[str, Any]] = {}
    _walk(before or {}, after or {}, [], result)
    return result


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of two JSON values: ``true`` is not ``1``; numbers compare by value.

    >>> _json_equal([1, {"x": 0}], [1.0, {"x": 0}]), _json_equal(True, 1)
    (True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_json_equal, a, b))
    return type(a) is type(b) and a == b


def is_pointer(path: Any) -> bool:
    """Whether ``path`` names a field as ``changes`` does: an RFC 6901 pointer below the root.

    >>> is_pointer("/address/city"), is_pointer("address.city"), is_pointer("/a~2")
    (True, False, False)
    """
    if not isinstance(path, str) or not path.startswith("/"):
        return False
    try:
        JsonPointer(path)
    except JsonPointerException:
        return False
    return True


def _walk(before: Any, after: Any, parts: list[str], out: dict) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            _walk(before.get(key, _MISSING), after.get(key, _MISSING), [*parts, key], out)
        return
    if before is not _MISSING and after is not _MISSING and _json_equal(before, after):
        return
    change = {}
    if before is not _MISSING:
        change["before"] = before
    if after is not _MISSING:
        change["after"] = after
    out[JsonPointer.from_parts(parts).path] = change
