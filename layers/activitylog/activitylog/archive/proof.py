"""One entry's proof, checkable offline: its archived versions, each with its inclusion path in
the org's Merkle tree, the newest signed checkpoint, and the public key.

The bundle is canonical JSON (sorted keys, no spaces) and one newline, so a checker can refuse
a bundle that differs from it by any byte (README "Checking a proof offline":
``docs/check_proof.py``, Python and ``cryptography`` only). Versions archived after the
newest checkpoint are not in it; the next digest adds them.

An inclusion path needs every leaf of the tree: they are read from the org's digests (one
object per digest run, read in parallel). ``bundle_bytes(build(archive, digests, org, entry_id,
trusted))`` is the bundle as served: its ``checkpoint``, ``format``, ``id``, ``org``, ``public_key``
and ``versions`` (each archived line with its index and inclusion path), as canonical JSON.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, cast

from activitylog.archive import layout, merkle
from activitylog.archive.digests import leaves_of, signature_holds
from activitylog.archive.lines import canonical
from activitylog.archive.lookup import versions_of
from activitylog.archive.store import Objects

FORMAT = 1


class NoProof(Exception):
    """The entry has no archived version a checkpoint covers yet (or the digests do not add up)."""


def build(archive: Objects, digests: Any, org: str, entry_id: str, public_keys: list[bytes]) -> Optional[dict]:
    """The bundle for ``entry_id`` with the one of ``public_keys`` that signed the newest checkpoint;
    None when the archive has no version of it."""
    lines = versions_of(archive, org, entry_id)
    if not lines:
        return None
    newest = max(digests.keys(layout.checkpoint_prefix(org)), default=None)
    if newest is None:
        raise NoProof(f"no checkpoint of org {org} yet: the next digest makes one")
    checkpoint = json.loads(digests.get(newest))
    signer = next((key for key in public_keys if signature_holds(checkpoint, [key])), None)
    if signer is None:
        raise NoProof(f"checkpoint {newest} is not signed by a trusted key: run activitylog verify")
    size = checkpoint["tree_size"]
    leaves: list[Optional[bytes]] = [None] * size
    places: dict[tuple[str, str], int] = {}
    keys = list(digests.keys(layout.digest_prefix(org)))
    with ThreadPoolExecutor(max_workers=min(16, len(keys) or 1)) as pool:
        documents = [json.loads(body) for body in pool.map(digests.get, keys) if body]
    for document in documents:
        tree = document.get("tree")
        if not tree or tree["size"] > size:
            continue
        for offset, (record, leaf) in enumerate(zip(document["records"], leaves_of(document["records"]), strict=True)):
            leaves[tree["first"] + offset] = leaf
            if record["id"] == entry_id:
                places[(record["seq"], record["sha256"])] = tree["first"] + offset
    complete = cast(list[bytes], leaves)  # used once no leaf is None: the check just below
    if any(leaf is None for leaf in leaves) or merkle.tree_root(complete).hex() != checkpoint["root"]:
        raise NoProof(f"the digests of org {org} do not add up to checkpoint {size}: run activitylog verify")
    versions: list[dict[str, Any]] = []
    for line in lines:
        index = places.get((line.sequence, line.sha256))
        if index is not None:
            versions.append(
                {
                    "line": line.text,
                    "index": index,
                    "path": [node.hex() for node in merkle.inclusion_proof(index, complete)],
                }
            )
    if not versions:
        raise NoProof(f"entry {entry_id} is archived after the newest checkpoint: the next digest covers it")
    versions.sort(key=lambda version: version["index"])
    return {
        "format": FORMAT,
        "org": org,
        "id": entry_id,
        "versions": versions,
        "checkpoint": checkpoint,
        "public_key": base64.b64encode(signer).decode(),
    }


def bundle_bytes(bundle: dict) -> bytes:
    """The bundle as stored and served: canonical JSON and one newline."""
    return canonical(bundle).encode() + b"\n"
