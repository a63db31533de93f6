"""An RFC 9162 Merkle tree over an org's archived versions: one leaf per version, in digest order.

A leaf's data is the SHA-256 of the archived line (the bytes every digest already records), so
the tree is built from the digests alone: the digest job never reads an archived entry.
Hashing is RFC 9162 section 2.1.1: a leaf is ``SHA-256(0x00 || data)``, a node
``SHA-256(0x01 || left || right)``, and a tree of n leaves splits at the largest power of two
below n.

The digest job keeps no tree: each signed checkpoint carries the tree's *frontier* (the roots
of the perfect subtrees that make up its leaves, left to right, at most log2(n) hashes). The
frontier and the new leaves are all that appending, the new root and the consistency proof
from the previous checkpoint need; an inclusion proof needs the leaves (``prove`` reads them
from the digests).

Why not ``pymerkle`` (evaluated): its hashing is RFC 9162's, but its trees need every leaf at
hand, in memory or in a SQLite file, to give a root or a proof; the hourly Lambda would have to
load the org's whole history (or keep a database file in S3) on every run, where a frontier of
a few hashes in the last checkpoint is enough. And the offline checker must not depend on any
package of ours or theirs. The functions below are the RFC's algorithms, a few lines each.

>>> frontier = append([], 0, [leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
>>> root(frontier) == tree_root([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
True
"""

from __future__ import annotations

import hashlib
from typing import Callable, Optional

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_sizes(size: int) -> list[int]:
    """The sizes of the frontier's perfect subtrees of a tree of ``size`` leaves, left to right."""
    return [1 << bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]


def append(frontier: list[bytes], size: int, leaves: list[bytes]) -> list[bytes]:
    """The frontier of the tree of ``size`` leaves with ``leaves`` (leaf hashes) appended."""
    stack = list(zip(subtree_sizes(size), frontier, strict=False))
    for leaf in leaves:
        stack.append((1, leaf))
        while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
            (width, right), (_, left) = stack.pop(), stack.pop()
            stack.append((2 * width, node_hash(left, right)))
    return [hash_ for _, hash_ in stack]


def root(frontier: list[bytes]) -> bytes:
    """The tree's root from its frontier (the right-most subtrees fold first, as RFC 9162 splits)."""
    if not frontier:
        return EMPTY_ROOT
    found = frontier[-1]
    for left in reversed(frontier[:-1]):
        found = node_hash(left, found)
    return found


def tree_root(leaves: list[bytes]) -> bytes:
    return root(append([], 0, leaves))


def _ranges(size: int, frontier: list[bytes]) -> dict[tuple[int, int], bytes]:
    known, start = {}, 0
    for width, hash_ in zip(subtree_sizes(size), frontier, strict=False):
        known[(start, start + width)] = hash_
        start += width
    return known


def _hasher(old_size: int, frontier: list[bytes], new_leaves: list[bytes]) -> Callable[[int, int], bytes]:
    """MTH(D[a:b]) of the tree extended by ``new_leaves``, from the old frontier and the new leaves.

    Every range RFC 9162's recursion reaches inside the old tree is one of its frontier's
    subtrees or lies inside one, and one is met before its parts: the frontier is enough."""
    known = _ranges(old_size, frontier)

    def mth(a: int, b: int) -> bytes:
        if (a, b) in known:
            return known[(a, b)]
        if b - a == 1:
            if a < old_size:
                raise ValueError(f"leaf {a} is inside the old tree's frontier")
            return new_leaves[a - old_size]
        k = _split(b - a)
        found = node_hash(mth(a, a + k), mth(a + k, b))
        known[(a, b)] = found
        return found

    return mth


def consistency_proof(old_size: int, frontier: list[bytes], new_leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.4.1: PROOF(m, D[0:n]) with m = old_size, n = old_size + len(new_leaves)."""
    n = old_size + len(new_leaves)
    if old_size == 0 or old_size == n:
        return []
    mth = _hasher(old_size, frontier, new_leaves)

    def subproof(m: int, a: int, b: int, whole: bool) -> list[bytes]:
        if m == b - a:
            return [] if whole else [mth(a, b)]
        k = _split(b - a)
        if m <= k:
            return subproof(m, a, a + k, whole) + [mth(a + k, b)]
        return subproof(m - k, a + k, b, False) + [mth(a, a + k)]

    return subproof(old_size, 0, n, True)


def inclusion_proof(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1: PATH(index, D[0:n]) for the tree of ``leaves``."""
    mth = _hasher(0, [], leaves)

    def path(m: int, a: int, b: int) -> list[bytes]:
        if b - a == 1:
            return []
        k = _split(b - a)
        if m < k:
            return path(m, a, a + k) + [mth(a + k, b)]
        return path(m - k, a + k, b) + [mth(a, a + k)]

    return path(index, 0, len(leaves))


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> Optional[bytes]:
    """RFC 9162 section 2.1.3.2: the root ``proof`` leads to from ``leaf`` at ``index``, or None if it cannot."""
    if index >= size:
        return None
    fn, sn, found = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            found = node_hash(sibling, found)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            found = node_hash(found, sibling)
        fn, sn = fn >> 1, sn >> 1
    return found if sn == 0 else None


def consistency_holds(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: whether ``proof`` shows the tree of ``new_size`` extends the one of ``old_size``."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the proof's first node
        proof = [old_root] + proof
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for node in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
