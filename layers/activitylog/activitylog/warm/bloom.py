"""A Bloom filter of the correlation ids a warm file holds, so a chain's page opens only its files.

A correlation id is free text (a request's id, a job run's), so a file's min/max says nothing
of it, and a manifest cannot list thousands per file. Each file gets a small object beside it
(``correlations_key``): about 10 bits per distinct id, 7 probes, under 1 % false positives;
at 1M entries a chain's page reads 62 of them (a few KB each, once per container) instead of
62 footers and their row groups' bloom filters.

The bytes are this module's own format (a 1-byte version, a 1-byte probe count, the bits),
kept stable because the files live for years; the same ids always make the same bytes, so
compaction stays deterministic.

>>> made = make(["run_1", "req_7", "run_1"])
>>> may_hold(made, "run_1"), may_hold(made, "req_7"), may_hold(made, "run_2")
(True, True, False)
>>> may_hold(make([]), "run_1")
False
"""

from __future__ import annotations

import hashlib
from typing import Iterable

VERSION = 1
BITS_PER_ID = 10
PROBES = 7


def make(ids: Iterable[str]) -> bytes:
    distinct = sorted(set(ids))
    size = max(64, len(distinct) * BITS_PER_ID + 7) // 8 * 8  # bits, whole bytes
    bits = bytearray(size // 8)
    for value in distinct:
        for at in _probes(value, size):
            bits[at >> 3] |= 1 << (at & 7)
    return bytes([VERSION, PROBES]) + bytes(bits)


def may_hold(made: bytes, value: str) -> bool:
    """False only if the file holds no entry of ``value``; an unknown format answers True (the file is read)."""
    if len(made) < 3 or made[0] != VERSION:
        return True
    bits = made[2:]
    return all(bits[at >> 3] >> (at & 7) & 1 for at in _probes(value, len(bits) * 8, made[1]))


def _probes(value: str, size: int, probes: int = PROBES) -> list[int]:
    digest = hashlib.blake2b(value.encode(), digest_size=16).digest()
    first, second = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big") | 1
    return [(first + number * second) % size for number in range(probes)]
