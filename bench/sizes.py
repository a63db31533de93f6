"""Stored bytes per entry, by DynamoDB's documented size formula, for the table and each index.

DynamoDB Local does not bill, so storage is computed on the exact items the seed writes:
an attribute is its name's UTF-8 bytes plus its value (strings: UTF-8 bytes; binary: raw
bytes; numbers: about one byte per two significant digits, plus one). Storage adds 100
bytes per item in the table and in each index the item appears in; an index item holds
the table's keys, the index's keys and the projected attributes. (Developer Guide,
"Item sizes and formats" and "Storage of secondary indexes".)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

ITEM_OVERHEAD = 100


def attribute_bytes(name: str, value: dict) -> int:
    (kind, raw), = value.items()
    size = len(name.encode())
    if kind == "S":
        return size + len(raw.encode())
    if kind == "B":
        return size + len(raw)
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").strip("0") or "0"
        return size + (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return size + 1
    if kind in ("M", "L"):
        inner = raw.items() if kind == "M" else (("", v) for v in raw)
        return size + 3 + sum(attribute_bytes(n, v) + 1 for n, v in inner)
    return size + sum(len(str(v).encode()) for v in raw)  # sets


def item_bytes(item: dict) -> int:
    """The item's size as DynamoDB counts it for write units and the 400 KB limit."""
    return sum(attribute_bytes(name, value) for name, value in item.items())


@lru_cache(maxsize=1)
def _indexes() -> tuple[tuple[str, tuple[str, ...], Any], ...]:
    """(name, key attributes, projected attributes or None for ALL) per GSI in template.yaml."""
    from samlocal.template import load

    props = load()["Resources"]["ActivityTable"]["Properties"]
    table_keys = tuple(k["AttributeName"] for k in props["KeySchema"])
    found = []
    for index in props.get("GlobalSecondaryIndexes", []):
        keys = tuple(k["AttributeName"] for k in index["KeySchema"])
        projection = index["Projection"]
        kind = projection.get("ProjectionType", "KEYS_ONLY")
        projected = None if kind == "ALL" else set(table_keys + keys) | set(projection.get("NonKeyAttributes", []))
        found.append((index["IndexName"], keys, projected))
    return tuple(found)


def stored_bytes(item: dict, keys_only: bool = False) -> dict[str, int]:
    """Billed storage of one item: ``{"table": …, index name: …}`` (indexes it is not in: absent).

    ``keys_only``: as if every index projected only the keys (a lever the cost report prices).
    """
    sizes = {"table": item_bytes(item) + ITEM_OVERHEAD}
    table_keys = ("pk", "sk")
    for name, keys, projected in _indexes():
        if all(k in item for k in keys):  # sparse: no key, no index item
            if keys_only:
                projected = set(table_keys + keys)
            kept = item if projected is None else {k: v for k, v in item.items() if k in projected}
            sizes[name] = item_bytes(kept) + ITEM_OVERHEAD
    return sizes
