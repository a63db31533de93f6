"""Tamper evidence: signed digests of the archive, chained per org, and their verification.

Every hour the digest job covers, for each org that had versions archived, the manifests
written since its previous digest: the SHA-256 of each archived version, their count, the
first and last entry ids, the previous digest's SHA-256 (the chain) and a signature. The
org's head (``heads/org=….json``) names its newest digest; the digest bucket has Object
Lock, so neither can be rewritten or removed unseen, and every version of the head stays.

A hash chain alone cannot tell that its newest links were cut off, with the newest rows: the
head can. ``verify`` walks the chain back from the head and reports each digest missing,
altered or off the chain, each archived version altered, missing, inserted or duplicated,
and a head that went back. Versions archived after the newest digest are ``pending``.

>>> Digester(archive, digest_bucket, signer_for(key_id)).run(until)
{'cut': '2026-11-27T10:00:00Z', 'orgs': 3, 'versions': 1412}
>>> verify(archive, digest_bucket, "org_1", low, high, public_key).ok
True
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional

from activitylog import ids
from activitylog.archive import layout
from activitylog.archive.lines import canonical
from activitylog.archive.query import days
from activitylog.archive.store import Objects, unpack_lines

FORMAT = 1
CUT_STATE = "digest-state/cut.json"  # in the archive bucket: where the last run stopped (a hint; heads decide)
SETTLE = timedelta(minutes=5)  # a manifest is listed this long after its key's time: no archive write is still on its way
CLOCK_SLACK = timedelta(hours=1)  # versions are archived after their entry occurred (ids may be 5 min in the future)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def sign(document: dict, signer: Any) -> bytes:
    """The document with its signature (over its canonical JSON without one), as stored."""
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    signature = signer.sign(hashlib.sha256(canonical(unsigned).encode()).digest())
    return canonical({**unsigned, "signature": base64.b64encode(signature).decode()}).encode()


def signature_holds(document: dict, public_key: Callable[[str], bytes]) -> bool:
    from activitylog.archive.signing import check

    unsigned = {key: value for key, value in document.items() if key != "signature"}
    try:
        return check(public_key(document["signing_key"]), hashlib.sha256(canonical(unsigned).encode()).digest(),
                     base64.b64decode(document["signature"]))
    except (KeyError, ValueError, TypeError):
        return False


# --- writing: the hourly job ------------------------------------------------------------------------


class Digester:
    def __init__(self, archive: Any, digests: Any, signer: Any, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.archive = archive  # S3Objects of the archive bucket (manifests, the cut state)
        self.digests = digests  # S3Objects of the digest bucket (Object Lock)
        self.signer, self.clock = signer, clock

    @classmethod
    def from_environment(cls) -> "Digester":
        from activitylog.archive.signing import signer_for
        from activitylog.archive.store import S3Objects
        from activitylog.config import settings

        config = settings()
        if not (config.archive_bucket and config.digest_bucket and config.digest_signing_key):
            raise RuntimeError("the digest job needs ARCHIVE_BUCKET, DIGEST_BUCKET and DIGEST_SIGNING_KEY")
        return cls(S3Objects(config.archive_bucket), S3Objects(config.digest_bucket), signer_for(config.digest_signing_key))

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
        document = {
            "format": FORMAT, "org": org,
            "from": head["digest"]["until"] if head else None, "until": _iso(cut),
            "sequence": head["sequence"] + 1 if head else 1,
            "count": len(records), "first_id": entry_ids[0], "last_id": entry_ids[-1],
            "records": [{"id": r["id"], "seq": r["seq"], "change": r["change"], "sha256": r["sha256"]} for r in records],
            "manifests": keys,
            "previous": {"key": head["digest"]["key"], "sha256": head["digest"]["sha256"]} if head else None,
            "signing_key": self.signer.key_id,
        }
        body = sign(document, self.signer)
        key = layout.digest_key(org, cut)
        self.digests.put(key, body)
        self._move_head(org, document["sequence"], key, body, document["until"])
        return len(records)

    def _head(self, org: str) -> Optional[dict]:
        """The org's head, moved on first to a digest a crashed run wrote after it but before moving it."""
        head = json.loads(self.digests.get(layout.head_key(org)) or b"null")
        newest = max(self.digests.keys(layout.digest_prefix(org)), default=None)
        if newest and (head is None or newest > head["digest"]["key"]):
            body = self.digests.get(newest)
            stray = json.loads(body)
            previous = stray.get("previous") or {}
            if (head is None and previous == {}) or (head and previous.get("key") == head["digest"]["key"]):
                self._move_head(org, stray["sequence"], newest, body, stray["until"])
                head = json.loads(self.digests.get(layout.head_key(org)))
        return head

    def _move_head(self, org: str, sequence: int, key: str, body: bytes, until: str) -> None:
        head = {"format": FORMAT, "org": org, "sequence": sequence,
                "digest": {"key": key, "sha256": hashlib.sha256(body).hexdigest(), "until": until},
                "signing_key": self.signer.key_id}
        self.digests.put(layout.head_key(org), sign(head, self.signer))


# --- reading: verification --------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str  # altered, missing, inserted, duplicated, digest, chain, head, pending
    message: str
    entry_id: Optional[str] = None
    sequence: Optional[str] = None
    key: Optional[str] = None

    def to_dict(self) -> dict:
        return {k: v for k, v in {"kind": self.kind, "message": self.message, "id": self.entry_id, "seq": self.sequence,
                                  "key": self.key}.items() if v is not None}


@dataclass
class Report:
    org: str
    digests: int = 0  # digests checked
    versions: int = 0  # archived versions of the window's entries checked against them
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.kind != "pending"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"org": self.org, "ok": self.ok, "digests": self.digests, "versions": self.versions,
                "findings": [f.to_dict() for f in self.findings]}


def verify(archive: Objects, digests: Any, org: str, low: datetime, high: datetime,
           public_key: Callable[[str], bytes]) -> Report:
    """Check the archived versions of the org's entries that occurred in [low, high] against the
    signed digests, and the digests' chain from the head back past ``low``."""
    report = Report(org)
    expected = _walk_chain(digests, org, low, public_key, report)
    low_id, high_id = ids.lower_bound(low), ids.upper_bound(high)
    wanted = {pair: hashes for pair, hashes in expected.items() if low_id <= pair[0] <= high_id}
    archived = _archived(archive, org, low, high, low_id, high_id)
    pending = _pending(archive, digests, org)
    report.versions = len(archived)
    for (entry_id, sequence), hashes in sorted(wanted.items()):
        if len(hashes) > 1:
            report.findings.append(Finding("digest", f"digests disagree on version {sequence} of entry {entry_id}", entry_id, sequence))
        found = archived.get((entry_id, sequence), [])
        if not found:
            report.findings.append(Finding("missing", f"entry {entry_id}: version {sequence} is in a signed digest but not in the archive",
                                           entry_id, sequence))
            continue
        for key, sha256 in found:
            if sha256 not in hashes:
                report.findings.append(Finding("altered", f"entry {entry_id}: version {sequence} in {key} is not what was archived "
                                                          f"(its SHA-256 differs from the signed digest's)", entry_id, sequence, key))
        if len(found) > 1:
            report.findings.append(Finding("duplicated", f"entry {entry_id}: version {sequence} is archived {len(found)} times "
                                                         f"({', '.join(k for k, _ in found)})", entry_id, sequence))
    for (entry_id, sequence), found in sorted(archived.items()):
        if (entry_id, sequence) in wanted:
            continue
        for key, sha256 in found:
            if (entry_id, sequence, sha256) in pending:
                report.findings.append(Finding("pending", f"entry {entry_id}: version {sequence} is archived after the newest digest",
                                               entry_id, sequence, key))
            else:
                report.findings.append(Finding("inserted", f"entry {entry_id}: version {sequence} in {key} is in no signed digest",
                                               entry_id, sequence, key))
    return report


def _walk_chain(digests: Any, org: str, low: datetime, public_key: Callable[[str], bytes], report: Report) -> dict:
    """(id, seq) -> the SHA-256s the digests from the head back past ``low`` record; chain problems into ``report``."""
    expected: dict[tuple[str, str], set[str]] = defaultdict(set)
    head = _check_head(digests, org, public_key, report)
    if head is None:
        return expected
    listed = sorted(digests.keys(layout.digest_prefix(org)))
    on_chain: set[str] = set()
    link, sequence = dict(head["digest"]), head["sequence"]
    while link:
        body = digests.get(link["key"])
        if body is None:
            report.findings.append(Finding("chain", f"digest {link['key']} is missing: the chain is broken there "
                                                    f"(the versions it covered are in no signed digest now)", key=link["key"]))
            older = [key for key in listed if key < link["key"]]  # go on from the next digest that is there, unlinked
            link, sequence = ({"key": older[-1], "sha256": None}, None) if older else (None, None)
            continue
        on_chain.add(link["key"])
        document = json.loads(body)
        report.digests += 1
        if link["sha256"] is not None and hashlib.sha256(body).hexdigest() != link["sha256"]:
            report.findings.append(Finding("digest", f"digest {link['key']} is not the one its successor chained (altered)", key=link["key"]))
        if not signature_holds(document, public_key):
            report.findings.append(Finding("digest", f"digest {link['key']}: the signature does not hold", key=link["key"]))
        if (sequence is not None and document.get("sequence") != sequence) or document.get("count") != len(document.get("records", [])):
            report.findings.append(Finding("digest", f"digest {link['key']}: its sequence or count is not what the chain says",
                                           key=link["key"]))
        for record in document.get("records", []):
            expected[(record["id"], record["seq"])].add(record["sha256"])
        if document.get("from") and _parse(document["from"]) < low - CLOCK_SLACK:
            previous = document.get("previous")
            if previous and digests.get(previous["key"]) is None:
                report.findings.append(Finding("chain", f"digest {previous['key']} is missing: the chain is broken there", key=previous["key"]))
            break
        link = document.get("previous")
        sequence = document["sequence"] - 1 if isinstance(document.get("sequence"), int) else None
    oldest = min(on_chain, default="")
    reached_start = link is None
    for key in listed:
        if key not in on_chain and (reached_start or key > oldest):
            report.findings.append(Finding("chain", f"digest {key} is not on the org's chain (added, or its successor was)", key=key))
    return expected


def _check_head(digests: Any, org: str, public_key: Callable[[str], bytes], report: Report) -> Optional[dict]:
    versions = digests.versions(layout.head_key(org))
    if not versions:
        return None  # nothing digested yet: every archived version is pending or inserted
    if versions[0]["deleted"]:
        report.findings.append(Finding("head", f"the chain head {layout.head_key(org)} was deleted", key=layout.head_key(org)))
    kept = [json.loads(v["body"]) for v in versions if not v["deleted"]]
    head = kept[0]
    if not signature_holds(head, public_key):
        report.findings.append(Finding("head", "the chain head's signature does not hold", key=layout.head_key(org)))
    newest = max(kept, key=lambda h: h.get("sequence", 0))
    if newest["sequence"] > head["sequence"]:
        report.findings.append(Finding("head", f"the chain head went back from digest {newest['sequence']} ({newest['digest']['key']}) "
                                               f"to {head['sequence']}: the newest digests and their versions were cut off",
                                       key=newest["digest"]["key"]))
        return newest
    return head


def _archived(archive: Objects, org: str, low: datetime, high: datetime, low_id: str, high_id: str) -> dict:
    """(id, seq) -> [(object key, SHA-256)] of every archived line of the entries that occurred in the window."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for day in days(low, high):
        for key in archive.keys(layout.date_prefix(org, day)):
            for line in unpack_lines(archive.get(key) or b""):
                if low_id <= line.entry_id <= high_id and line.org == org:
                    found[(line.entry_id, line.sequence)].append((key, line.sha256))
    return found


def _pending(archive: Objects, digests: Any, org: str) -> set[tuple[str, str, str]]:
    """The versions of the org's manifests written after its newest digest."""
    head = json.loads(digests.get(layout.head_key(org)) or b"null")
    after = _parse(head["digest"]["until"]) if head else None
    pending = set()
    for key in archive.keys(layout.MANIFEST_PREFIX, start_after=layout.manifests_after(after)):
        pending |= {(r["id"], r["seq"], r["sha256"]) for r in json.loads(archive.get(key))["lines"] if r["org"] == org}
    return pending
