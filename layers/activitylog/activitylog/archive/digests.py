"""Tamper evidence: signed digests of the archive, chained per org, a Merkle tree per org with
signed checkpoints, and their verification.

Every hour the digest job covers, for each org that had versions archived, the manifests
written since its previous digest: the SHA-256 of each archived version, their count, the
first and last entry ids, the previous digest's SHA-256 (the chain), where its versions sit in
the org's Merkle tree (``merkle``: RFC 9162, one leaf per version) and a signature. Beside it a
**checkpoint** (``checkpoints/org=…/<tree size>.json``): the tree's size, root and time, the
frontier the next run appends to, and the consistency proof from the previous checkpoint,
signed. The org's head (``heads/org=….json``) names its newest digest. The digest bucket has
Object Lock: no version of any of them can be changed or removed, only added or hidden
behind a delete marker, and ``verify`` lists every version.

``verify`` trusts only the public keys it is given (the deployment's signing key and its
predecessors, from configuration: never a key a digest names). It walks the chain back from
the newest digest ever written and reports each digest or checkpoint missing, hidden,
rewritten, altered, off the chain or signed by another key; each checkpoint whose
consistency with the one before does not hold (a forked or rewritten history); each
archived version altered, missing, inserted or duplicated; a head that went back; and each
manifest dated in the future, or older than the digest cadence and its grace and still in
no digest. Versions named by a manifest written after the newest digest are ``pending``.

The digest function runs ``Digester(archive, digests, signer).run(cut)``; ``activitylog verify`` runs
``verify(archive, digests, org, low, high, public_keys)``, whose ``Report.ok`` is the verdict.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional

from activitylog import ids
from activitylog.archive import layout, merkle
from activitylog.archive.layout import days
from activitylog.archive.lines import canonical
from activitylog.archive.store import Objects, unpack_lines

FORMAT = 2  # 2: digests place their versions in the org's Merkle tree; checkpoints beside them
CHECKPOINT_FORMAT = 1
CUT_STATE = "digest-state/cut.json"  # in the archive bucket: where the last run stopped (a hint; heads decide)
SETTLE = timedelta(
    minutes=5
)  # a manifest is listed this long after its key's time: no archive write is still on its way
CLOCK_SLACK = timedelta(hours=1)  # versions are archived after their entry occurred (ids may be 5 min in the future)
CADENCE = timedelta(hours=1)  # the digest runs hourly (template.yaml's schedule), at ten past
GRACE = timedelta(hours=1)  # one missed run, then an undigested manifest is a finding
MANIFEST_SKEW = timedelta(minutes=5)  # a manifest's time ahead of the verifier's clock by more is forged


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _unsigned_digest(document: dict) -> bytes:
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    return hashlib.sha256(canonical(unsigned).encode()).digest()


def sign(document: dict, signer: Any) -> bytes:
    """The document with its signature (over the SHA-256 of its canonical JSON without one), as stored."""
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    signature = signer.sign(_unsigned_digest(unsigned))
    return canonical({**unsigned, "signature": base64.b64encode(signature).decode()}).encode()


def signature_holds(document: dict, public_keys: Iterable[bytes]) -> bool:
    """Whether one of the pinned ``public_keys`` (DER) signed ``document``; the key it names is not asked."""
    from activitylog.archive.signing import check

    try:
        message, signature = _unsigned_digest(document), base64.b64decode(document["signature"], validate=True)
    except (KeyError, ValueError, TypeError):
        return False
    return any(check(key, message, signature) for key in public_keys)


def leaves_of(records: list[dict]) -> list[bytes]:
    """The tree's leaves of a digest's records: each leaf's data is the SHA-256 of the archived line."""
    return [merkle.leaf_hash(bytes.fromhex(record["sha256"])) for record in records]


# --- writing: the hourly job ------------------------------------------------------------------------


class Digester:
    def __init__(
        self,
        archive: Any,
        digests: Any,
        signer: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.archive = archive  # S3Objects of the archive bucket (manifests, the cut state)
        self.digests = digests  # S3Objects of the digest bucket (Object Lock)
        self.signer, self.clock = signer, clock

    def cut_for(self, event: dict) -> datetime:
        """Where a run stops: an hour boundary at least ``SETTLE`` behind the schedule's time, or the
        event's own ``until`` (an operator's run), never in the future."""
        now = self.clock()
        if event.get("until"):
            return min(datetime.fromisoformat(event["until"].replace("Z", "+00:00")), now)
        when = datetime.fromisoformat(event["time"].replace("Z", "+00:00")) if event.get("time") else now
        return (min(when, now) - SETTLE).replace(minute=0, second=0, microsecond=0)

    def run(self, cut: datetime) -> dict:
        """A digest for each org with manifests written up to ``cut`` that its last digest does not cover."""
        state = json.loads(self.archive.get(CUT_STATE) or b"{}")
        since = _parse(state["cut"]) if state.get("cut") else None
        by_org: dict[str, dict[str, list[dict]]] = defaultdict(dict)  # org -> manifest key -> its lines of the org
        for key in self.archive.keys(layout.MANIFEST_PREFIX, start_after=layout.manifests_after(since)):
            if layout.manifest_time(key) > cut:
                break
            for line in json.loads(self.archive.get(key))["lines"]:
                by_org[line["org"]].setdefault(key, []).append(line)
        written = versions = 0
        for org, manifests in sorted(by_org.items()):
            count = self._digest(org, manifests, cut)
            written, versions = written + (count is not None), versions + (count or 0)
        if since is None or cut > since:
            self.archive.put(CUT_STATE, canonical({"cut": _iso(cut)}).encode())
        return {"cut": _iso(cut), "orgs": written, "versions": versions}

    def _digest(self, org: str, manifests: dict[str, list[dict]], cut: datetime) -> Optional[int]:
        head = self._head(org)
        covered = _parse(head["digest"]["until"]) if head else None
        keys = [key for key in manifests if covered is None or layout.manifest_time(key) > covered]
        if not keys or (covered is not None and cut <= covered):
            return None
        records = [line for key in keys for line in manifests[key]]
        records.sort(key=lambda r: (int(r["seq"]), r["id"]))
        entry_ids = sorted(r["id"] for r in records)
        size, frontier = self._tree(org, head)
        grown = merkle.append(frontier, size, leaves_of(records))
        document = {
            "format": FORMAT,
            "org": org,
            "from": head["digest"]["until"] if head else None,
            "until": _iso(cut),
            "sequence": head["sequence"] + 1 if head else 1,
            "count": len(records),
            "first_id": entry_ids[0],
            "last_id": entry_ids[-1],
            "records": [
                {"id": r["id"], "seq": r["seq"], "change": r["change"], "sha256": r["sha256"]} for r in records
            ],
            "manifests": keys,
            "previous": {"key": head["digest"]["key"], "sha256": head["digest"]["sha256"]} if head else None,
            "tree": {"first": size, "size": size + len(records), "root": merkle.root(grown).hex()},
            "signing_key": self.signer.key_id,
        }
        body = sign(document, self.signer)
        key = layout.digest_key(org, cut)
        self.digests.put(key, body)
        self._checkpoint(org, key, body)
        self._move_head(org, document["sequence"], key, body, document["until"])
        return len(records)

    def _tree(self, org: str, head: Optional[dict]) -> tuple[int, list[bytes]]:
        """The org's tree as its newest checkpoint left it: (size, frontier)."""
        if head is None:
            return 0, []
        newest = json.loads(self.digests.get(head["digest"]["key"]))
        if "tree" not in newest:
            return self._first_checkpoint(org, head)
        size = newest["tree"]["size"]
        checkpoint = json.loads(self.digests.get(layout.checkpoint_key(org, size)))
        return size, [bytes.fromhex(node) for node in checkpoint["frontier"]]

    def _first_checkpoint(self, org: str, head: dict) -> tuple[int, list[bytes]]:
        """A chain of digests from before the tree (format 1): its versions, oldest digest first, are
        the tree's first leaves; one checkpoint signs them, once."""
        records: list[dict] = []
        link: Optional[dict] = head["digest"]
        while link:
            document = json.loads(self.digests.get(link["key"]))
            records = document["records"] + records
            link = document.get("previous")
        leaves = leaves_of(records)
        frontier = merkle.append([], 0, leaves)
        if not self._exists(layout.checkpoint_key(org, len(leaves))):
            checkpoint = {
                "format": CHECKPOINT_FORMAT,
                "org": org,
                "tree_size": len(leaves),
                "root": merkle.root(frontier).hex(),
                "time": head["digest"]["until"],
                "digest": {"key": head["digest"]["key"], "sha256": head["digest"]["sha256"]},
                "frontier": [node.hex() for node in frontier],
                "previous": None,
                "consistency": [],
                "signing_key": self.signer.key_id,
            }
            self.digests.put(layout.checkpoint_key(org, len(leaves)), sign(checkpoint, self.signer))
        return len(leaves), frontier

    def _checkpoint(self, org: str, key: str, body: bytes) -> None:
        """The signed checkpoint of the tree as the digest ``key`` grew it (once: a repeat is skipped)."""
        document = json.loads(body)
        tree = document["tree"]
        if self._exists(layout.checkpoint_key(org, tree["size"])):
            return
        size, frontier = 0, []
        previous = None
        if tree["first"]:
            before = json.loads(self.digests.get(layout.checkpoint_key(org, tree["first"])))
            size, frontier = before["tree_size"], [bytes.fromhex(node) for node in before["frontier"]]
            previous = {"tree_size": before["tree_size"], "root": before["root"]}
        leaves = leaves_of(document["records"])
        grown = merkle.append(frontier, size, leaves)
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "org": org,
            "tree_size": size + len(leaves),
            "root": merkle.root(grown).hex(),
            "time": document["until"],
            "digest": {"key": key, "sha256": hashlib.sha256(body).hexdigest()},
            "frontier": [node.hex() for node in grown],
            "previous": previous,
            "consistency": [node.hex() for node in merkle.consistency_proof(size, frontier, leaves)],
            "signing_key": self.signer.key_id,
        }
        self.digests.put(layout.checkpoint_key(org, checkpoint["tree_size"]), sign(checkpoint, self.signer))

    def _head(self, org: str) -> Optional[dict]:
        """The org's head, moved on first to a digest a crashed run wrote after it but before moving it."""
        head = (
            json.loads(self.digests.get(layout.head_key(org)) or b"null")
            if self._exists(layout.head_key(org))
            else None
        )
        newest = max(self.digests.keys(layout.digest_prefix(org)), default=None)
        if newest and (head is None or newest > head["digest"]["key"]):
            body = self.digests.get(newest)
            stray = json.loads(body)
            previous = stray.get("previous") or {}
            if (head is None and previous == {}) or (head and previous.get("key") == head["digest"]["key"]):
                self._checkpoint(org, newest, body)
                self._move_head(org, stray["sequence"], newest, body, stray["until"])
                head = json.loads(self.digests.get(layout.head_key(org)))
        return head

    def _exists(self, key: str) -> bool:
        """Listed, not asked for: S3 answers a missing key with 403, not 404, to a role that may not list it."""
        return key in self.digests.keys(key)

    def _move_head(self, org: str, sequence: int, key: str, body: bytes, until: str) -> None:
        head = {
            "format": FORMAT,
            "org": org,
            "sequence": sequence,
            "digest": {"key": key, "sha256": hashlib.sha256(body).hexdigest(), "until": until},
            "signing_key": self.signer.key_id,
        }
        self.digests.put(layout.head_key(org), sign(head, self.signer))


# --- reading: verification --------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str  # altered, missing, inserted, duplicated, digest, checkpoint, chain, head, manifest, pending
    message: str
    entry_id: Optional[str] = None
    sequence: Optional[str] = None
    key: Optional[str] = None

    def to_dict(self) -> dict:
        return {
            k: v
            for k, v in {
                "kind": self.kind,
                "message": self.message,
                "id": self.entry_id,
                "seq": self.sequence,
                "key": self.key,
            }.items()
            if v is not None
        }


@dataclass
class Report:
    org: str
    digests: int = 0  # digests checked
    checkpoints: int = 0  # checkpoints checked
    versions: int = 0  # archived versions of the window's entries checked against them
    findings: list[Finding] = field(default_factory=list)
    signed: set = field(default_factory=set)  # (id, seq, sha256) that a digest signed by a pinned key names
    pending: set = field(default_factory=set)  # (id, seq, sha256) of manifests after the newest digest, within bounds
    covered_until: Optional[datetime] = None  # the newest digest signed by a pinned key covers manifests up to here

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.kind != "pending"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, message: str, **where) -> None:
        self.findings.append(Finding(kind, message, **where))

    def to_dict(self) -> dict:
        return {
            "org": self.org,
            "ok": self.ok,
            "digests": self.digests,
            "checkpoints": self.checkpoints,
            "versions": self.versions,
            "findings": [f.to_dict() for f in self.findings],
        }


class _Listing:
    """Every version of the org's digests and checkpoints, from the version listing alone (no body read).

    Each is written once, so on an untouched bucket this is one entry per digest run; every extra
    version an attacker adds is itself a finding. The head is not listed: its versions are never
    needed (``_check_head``), so putting it back a million times costs ``verify`` nothing."""

    def __init__(self, digests: Any, org: str) -> None:
        self.by_key: dict[str, list[dict]] = defaultdict(list)
        for prefix in (layout.digest_prefix(org), layout.checkpoint_prefix(org)):
            for version in digests.listed_versions(prefix):
                self.by_key[version["key"]].append(version)

    def keys(self, prefix: str) -> list[str]:
        """Keys that ever held a body under ``prefix``, hidden ones too, in order."""
        return sorted(
            key
            for key, versions in self.by_key.items()
            if key.startswith(prefix) and any(not v["deleted"] for v in versions)
        )

    def hidden(self, key: str) -> bool:
        return any(v["deleted"] and v["latest"] for v in self.by_key.get(key, []))

    def bodies(self, key: str) -> int:
        return sum(not v["deleted"] for v in self.by_key.get(key, []))

    def body(self, digests: Any, key: str) -> Optional[bytes]:
        """The key's body even behind a delete marker (Object Lock keeps the version): the latest one."""
        if not self.hidden(key):
            return digests.get(key)
        kept = [v for v in self.by_key.get(key, []) if not v["deleted"]]
        return digests.get_version(key, kept[0]["version"]) if kept else None


def verify(
    archive: Objects,
    digests: Any,
    org: str,
    low: datetime,
    high: datetime,
    public_keys: list[bytes],
    now: Optional[datetime] = None,
) -> Report:
    """Check the archived versions of the org's entries that occurred in [low, high] against the
    signed digests and checkpoints, trusting only ``public_keys`` (DER SubjectPublicKeyInfo)."""
    now = now or datetime.now(timezone.utc)
    report = Report(org)
    listing = _Listing(digests, org)
    expected, chain = _walk_chain(digests, listing, org, low, public_keys, report)
    checkpoints = _check_checkpoints(digests, listing, org, public_keys, report)
    _check_trees(digests, org, chain, checkpoints, report)
    low_id, high_id = ids.lower_bound(low), ids.upper_bound(high)
    wanted = {pair: hashes for pair, hashes in expected.items() if low_id <= pair[0] <= high_id}
    archived = _archived(archive, org, low, high, low_id, high_id)
    _check_manifests(archive, org, now, report)
    report.versions = len(archived)
    for (entry_id, sequence), hashes in sorted(wanted.items()):
        if len(hashes) > 1:
            report.add(
                "digest",
                f"digests disagree on version {sequence} of entry {entry_id}",
                entry_id=entry_id,
                sequence=sequence,
            )
        found = archived.get((entry_id, sequence), [])
        if not found:
            report.add(
                "missing",
                f"entry {entry_id}: version {sequence} is in a signed digest but not in the archive",
                entry_id=entry_id,
                sequence=sequence,
            )
            continue
        for key, sha256 in found:
            if sha256 not in hashes:
                report.add(
                    "altered",
                    f"entry {entry_id}: version {sequence} in {key} is not what was archived "
                    f"(its SHA-256 differs from the signed digest's)",
                    entry_id=entry_id,
                    sequence=sequence,
                    key=key,
                )
        if len(found) > 1:
            report.add(
                "duplicated",
                f"entry {entry_id}: version {sequence} is archived {len(found)} times "
                f"({', '.join(k for k, _ in found)})",
                entry_id=entry_id,
                sequence=sequence,
            )
    for (entry_id, sequence), found in sorted(archived.items()):
        if (entry_id, sequence) in wanted:
            continue
        for key, sha256 in found:
            if (entry_id, sequence, sha256) in report.pending:
                report.add(
                    "pending",
                    f"entry {entry_id}: version {sequence} is archived after the newest digest",
                    entry_id=entry_id,
                    sequence=sequence,
                    key=key,
                )
            else:
                report.add(
                    "inserted",
                    f"entry {entry_id}: version {sequence} in {key} is in no signed digest",
                    entry_id=entry_id,
                    sequence=sequence,
                    key=key,
                )
    return report


def _walk_chain(
    digests: Any, listing: _Listing, org: str, low: datetime, public_keys: list[bytes], report: Report
) -> tuple[dict, list[tuple[str, bytes, dict]]]:
    """(id, seq) -> the SHA-256s the digests from the newest back past ``low`` record, and the digests
    walked ((key, body, document), newest first); chain and head problems into ``report``."""
    expected: dict[tuple[str, str], set[str]] = defaultdict(set)
    walked: list[tuple[str, bytes, dict]] = []
    listed = listing.keys(layout.digest_prefix(org))
    for key in listed:
        if listing.bodies(key) > 1:
            report.add(
                "digest",
                f"digest {key} was rewritten: it has {listing.bodies(key)} versions (a digest is written once)",
                key=key,
            )
    link: Any = _check_head(digests, listing, org, listed, public_keys, report)  # then each digest's JSON "previous"
    if link is None:
        return expected, walked
    on_chain: set[str] = set()
    sequence = link.pop("sequence", None)
    while link:
        if link["key"] in on_chain:
            report.add("chain", f"digest {link['key']} is reached twice: the chain loops", key=link["key"])
            break
        body = digests.get(link["key"])
        if body is None:
            report.add(
                "chain",
                f"digest {link['key']} is missing: the chain is broken there "
                f"(the versions it covered are in no signed digest now)",
                key=link["key"],
            )
            older = [
                key for key in listed if key < link["key"] and not listing.hidden(key)
            ]  # go on from the next one there
            link, sequence = ({"key": older[-1], "sha256": None}, None) if older else (None, None)
            continue
        on_chain.add(link["key"])
        document = _document(body)
        if document is None:
            report.add("digest", f"digest {link['key']} cannot be read", key=link["key"])
            older = [key for key in listed if key < link["key"] and not listing.hidden(key)]
            link, sequence = ({"key": older[-1], "sha256": None}, None) if older else (None, None)
            continue
        walked.append((link["key"], body, document))
        report.digests += 1
        if link["sha256"] is not None and hashlib.sha256(body).hexdigest() != link["sha256"]:
            report.add(
                "digest", f"digest {link['key']} is not the one its successor chained (altered)", key=link["key"]
            )
        trusted = signature_holds(document, public_keys)
        if trusted and report.covered_until is None:
            report.covered_until = _parse(document["until"])
        if not trusted:
            report.add(
                "digest",
                f"digest {link['key']}: its signature does not hold under a pinned key "
                f"(it names key {document.get('signing_key')!r})",
                key=link["key"],
            )
        if (sequence is not None and document.get("sequence") != sequence) or document.get("count") != len(
            document.get("records", [])
        ):
            report.add(
                "digest", f"digest {link['key']}: its sequence or count is not what the chain says", key=link["key"]
            )
        try:
            for record in document.get("records", []):
                expected[(record["id"], record["seq"])].add(record["sha256"])
                if trusted:
                    report.signed.add((record["id"], record["seq"], record["sha256"]))
        except (KeyError, TypeError, AttributeError):
            report.add("digest", f"digest {link['key']}: its records cannot be read", key=link["key"])
        if trusted and document.get("from") and _parse(document["from"]) < low - CLOCK_SLACK:
            previous = document.get("previous")
            if previous and digests.get(previous["key"]) is None:
                report.add(
                    "chain", f"digest {previous['key']} is missing: the chain is broken there", key=previous["key"]
                )
            break
        link = document.get("previous")
        sequence = document["sequence"] - 1 if isinstance(document.get("sequence"), int) else None
    oldest = min(on_chain, default="")
    reached_start = link is None
    named = {f.key for f in report.findings if f.kind == "chain"}
    for key in listed:
        if key not in on_chain and (reached_start or key > oldest) and not listing.hidden(key):
            report.add("chain", f"digest {key} is not on the org's chain (added, or its successor was)", key=key)
        elif listing.hidden(key) and key not in named:  # outside the window walked: seen from the listing alone
            report.add("chain", f"digest {key} was deleted (a delete marker hides it)", key=key)
    return expected, walked


def _check_head(
    digests: Any, listing: _Listing, org: str, listed: list[str], public_keys: list[bytes], report: Report
) -> Optional[dict]:
    """Where the walk starts: the newest digest ever written (hidden ones too), whatever the head says.

    The head's versions are never read: a head put back once or a thousand times is seen from
    the digests' own keys, which Object Lock keeps."""
    key = layout.head_key(org)
    head = _document(digests.get(key))
    newest = listed[-1] if listed else None
    if head is None and newest:
        report.add("head", f"the chain head {key} was deleted or cannot be read", key=key)
    if head is None:
        return {"key": newest, "sha256": None} if newest else None
    if not signature_holds(head, public_keys):
        report.add("head", "the chain head's signature does not hold under a pinned key", key=key)
    named = str((head.get("digest") or {}).get("key", ""))
    if newest and newest > named:
        report.add(
            "head",
            f"the chain head went back from {newest} to {named} (digest {head.get('sequence')}): "
            f"the newest digests and their versions were cut off",
            key=newest,
        )
        return {"key": newest, "sha256": None}
    return {"key": named, "sha256": head["digest"].get("sha256"), "sequence": head.get("sequence")}


def _document(body: Optional[bytes]) -> Optional[dict]:
    """A stored JSON object, or None when there is none or it is not one (a garbled object is a finding, not a crash)."""
    try:
        document = json.loads(body) if body is not None else None
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _check_checkpoints(
    digests: Any, listing: _Listing, org: str, public_keys: list[bytes], report: Report
) -> dict[int, dict]:
    """Every checkpoint of the org, oldest first: signed by a pinned key, its root its frontier's,
    and consistent with the one before (RFC 9162 consistency proof). Size -> document."""
    found: dict[int, dict] = {}
    previous: Optional[dict] = None
    keys = listing.keys(layout.checkpoint_prefix(org))
    with ThreadPoolExecutor(max_workers=min(16, len(keys) or 1)) as pool:  # one small object per digest run
        bodies = dict(zip(keys, pool.map(lambda key: listing.body(digests, key), keys), strict=True))
    for key in keys:
        if listing.bodies(key) > 1:
            report.add("checkpoint", f"checkpoint {key} was rewritten: it has {listing.bodies(key)} versions", key=key)
        if listing.hidden(key):
            report.add(
                "checkpoint", f"checkpoint {key} was deleted (a delete marker hides it; the tree was cut back)", key=key
            )
        try:
            document = json.loads(bodies[key] or b"null")
            size, root = document["tree_size"], bytes.fromhex(document["root"])
            frontier = [bytes.fromhex(node) for node in document["frontier"]]
            proof = [bytes.fromhex(node) for node in document["consistency"]]
        except (ValueError, KeyError, TypeError):
            report.add("checkpoint", f"checkpoint {key} cannot be read", key=key)
            continue
        report.checkpoints += 1
        if not signature_holds(document, public_keys):
            report.add(
                "checkpoint",
                f"checkpoint {key}: its signature does not hold under a pinned key "
                f"(it names key {document.get('signing_key')!r})",
                key=key,
            )
        if size != layout.checkpoint_size(key) or merkle.root(frontier) != root:
            report.add("checkpoint", f"checkpoint {key}: its size or root is not its tree's", key=key)
        said = document.get("previous")
        had = {"tree_size": previous["tree_size"], "root": previous["root"]} if previous else None
        if said != had:
            report.add(
                "checkpoint",
                f"checkpoint {key} does not follow checkpoint "
                f"{had['tree_size'] if had else 'none'}: the history forked or was cut",
                key=key,
            )
        elif had and not merkle.consistency_holds(had["tree_size"], size, bytes.fromhex(had["root"]), root, proof):
            report.add(
                "checkpoint",
                f"checkpoint {key}: the tree of {size} does not extend the tree of "
                f"{had['tree_size']} (its consistency proof fails): the history was rewritten",
                key=key,
            )
        found[size] = document
        previous = document
    return found


def _check_trees(
    digests: Any, org: str, chain: list[tuple[str, bytes, dict]], checkpoints: dict[int, dict], report: Report
) -> None:
    """Each digest walked is in the tree its checkpoint signed: its versions are the leaves the
    checkpoint before it grew into this one."""
    for key, body, document in chain:
        tree = document.get("tree")
        if tree is None:
            continue  # a digest from before the tree (format 1)
        after = checkpoints.get(tree.get("size"))
        if after is None:
            report.add("checkpoint", f"digest {key}: no checkpoint of its tree (size {tree.get('size')})", key=key)
            continue
        if after.get("digest") != {"key": key, "sha256": hashlib.sha256(body).hexdigest()} or after["root"] != tree.get(
            "root"
        ):
            report.add(
                "checkpoint",
                f"checkpoint {layout.checkpoint_key(org, tree['size'])} does not sign digest {key}",
                key=layout.checkpoint_key(org, tree["size"]),
            )
            continue
        before: Optional[dict[str, Any]] = (
            checkpoints.get(tree["first"]) if tree["first"] else {"tree_size": 0, "frontier": []}
        )
        if before is None:
            report.add("checkpoint", f"digest {key}: no checkpoint of the tree it grew (size {tree['first']})", key=key)
            continue
        grown = merkle.append(
            [bytes.fromhex(n) for n in before["frontier"]], before["tree_size"], leaves_of(document.get("records", []))
        )
        if merkle.root(grown).hex() != after["root"] or tree["size"] - tree["first"] != len(
            document.get("records", [])
        ):
            report.add(
                "checkpoint",
                f"digest {key}: its versions do not grow checkpoint {tree['first']} into checkpoint {tree['size']}",
                key=key,
            )


def _check_manifests(archive: Objects, org: str, now: datetime, report: Report) -> None:
    """The org's manifests after its newest signed digest: pending while within the cadence and its grace;
    dated in the future, or older than that and still in no digest, a finding."""
    for key in archive.keys(layout.MANIFEST_PREFIX, start_after=layout.manifests_after(report.covered_until)):
        try:
            written = layout.manifest_time(key)
            lines = [r for r in json.loads(archive.get(key) or b"{}").get("lines", []) if r.get("org") == org]
        except ValueError:
            continue
        if not lines:
            continue
        if written > now + MANIFEST_SKEW:
            report.add(
                "manifest",
                f"manifest {key} is dated in the future ({_iso(written)}): forged; "
                f"its {len(lines)} versions are not pending",
                key=key,
            )
        elif written < now - CADENCE - SETTLE - GRACE:
            report.add(
                "manifest",
                f"manifest {key} was written {_iso(written)} and is still in no digest "
                f"(the digests stopped, or it was forged): its {len(lines)} versions are not pending",
                key=key,
            )
        else:
            report.pending |= {(r["id"], r["seq"], r["sha256"]) for r in lines}


def _archived(archive: Objects, org: str, low: datetime, high: datetime, low_id: str, high_id: str) -> dict:
    """(id, seq) -> [(object key, SHA-256)] of every archived line of the entries that occurred in the window."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for day in days(low, high):
        for key in archive.keys(layout.date_prefix(org, day)):
            for line in unpack_lines(archive.get(key) or b""):
                if low_id <= line.entry_id <= high_id and line.org == org:
                    found[(line.entry_id, line.sequence)].append((key, line.sha256))
    return found
