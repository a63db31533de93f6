"""Erasure by crypto-shredding: a data subject's personal fields are stored sealed under that subject's own key,
so destroying the key erases every copy at once (table, stream, archive, warm tier, backups) without changing a
stored byte: the digests and checkpoints, which cover what is stored, stay valid.

Data subjects and their personal fields:

- a team member (``user``): an entry's actor name when the actor is a user; the label and the changed values of
  an entity of type ``team_member`` (its id is the member's id);
- a contact (``contact``): the label and the changed values (``changes``' before and after: the record's fields)
  of an entity of type ``contact``, except the fields named ``id`` or ``…_id``.

Everything else stays readable: ids, type, status, action, event, times, metadata, the changed fields' names.

A sealed value is a string token ``pd1~{kind}~{subject id}~{key id}~{AES-SIV ciphertext, base64url}`` holding the
value's JSON. AES-SIV is deterministic: the same value of the same subject under the same key seals to the same
token, so the members directory and a retried write compare tokens as they compared names. The associated data
binds a token to its org and subject. Tokens are what every writer stores; ``reveal`` answers the values (or
``[erased]``) only where an entry is shown.

>>> Subject("user", "u_64").pk("org_1")
'org_1#user#u_64'
>>> parse_token("pd1~contact~c_9~0a1b2c3d4e5f~AAAA")[:3]
('contact', 'c_9', '0a1b2c3d4e5f')
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Protocol

from cryptography.exceptions import InvalidTag

from activitylog.entry import ActorKind, EntityType, Entry
from activitylog.errors import Unavailable


class KeyTable(Protocol):
    """Where the subjects' wrapped keys are kept (``store.subjectkeys.SubjectKeyTable``: data access stays there)."""

    def claim(self, pk: str, entries: int) -> Optional[tuple[str, bytes]]: ...
    def create(self, pk: str, kid: str, wrapped: bytes, entries: int) -> bool: ...
    def current(self, pks: list[str]) -> dict[str, tuple[str, bytes]]: ...
    def destroy(self, pk: str) -> Optional[tuple[str, int]]: ...


ERASED = "[erased]"
TOKEN_PREFIX = "pd1~"
USER, CONTACT = "user", "contact"
KINDS = (USER, CONTACT)
# The pseudonyms' own key (an HMAC key kept like a subject's): not a data subject, never erased by the API.
_PSEUDONYMS = ("pseudonyms", "org")
# Unwrapped keys one container keeps (64 bytes each) before it starts over.
CACHE_LIMIT = 20_000
CREATE_ATTEMPTS = 3
PARALLEL = 8  # key requests (DynamoDB, KMS) one write or one page makes at once


@dataclass(frozen=True)
class Subject:
    """A data subject of an org: ``kind`` (user or contact) and its id."""

    kind: str
    id: str

    def pk(self, org: str) -> str:
        return f"{org}#{self.kind}#{self.id}"


def actor_subject(entry: Entry) -> Optional[Subject]:
    """The team member an entry names as its actor (whose name is personal), or None."""
    actor = entry.actor or {}
    if actor.get("kind") == ActorKind.USER.value and actor.get("id") and actor.get("name"):
        return Subject(USER, actor["id"])
    return None


def entity_subject(entry: Entry) -> Optional[Subject]:
    """The person an entry's entity is (a contact, or a team member as a record), or None."""
    entity = entry.entity or {}
    if not entity.get("id"):
        return None
    if entity.get("type") == EntityType.CONTACT.value:
        return Subject(CONTACT, entity["id"])
    if entity.get("type") == EntityType.TEAM_MEMBER.value:
        return Subject(USER, entity["id"])
    return None


def is_token(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def parse_token(token: str) -> tuple[str, str, str, str]:
    """``(kind, subject id, key id, ciphertext in base64url)``; ids never hold ``~`` (``entry.KEY_PART``)."""
    _, kind, subject_id, kid, sealed = token.split("~", 4)
    return kind, subject_id, kid, sealed


def _personal_pointer(pointer: str) -> bool:
    """A changed field whose values are personal: all but the record's ids."""
    last = pointer.rsplit("/", 1)[-1]
    return not (last == "id" or last.endswith("_id"))


class SubjectKeys:
    """Seals entries' personal fields on write and reveals them where shown, under per-subject data keys
    (KMS ``GenerateDataKey`` under the service key, wrapped keys in ``SubjectKeyTable``), and erases a subject.

    Unwrapped keys are cached per container; which key is live is read from the table at every write (the
    update that counts the entries) and every reveal (a consistent BatchGetItem), so an erasure holds at once
    in every container, whatever it has cached.
    """

    def __init__(self, table: KeyTable, key_id: str, region: Optional[str] = None, kms: Any = None) -> None:
        self.table, self.key_id, self.region = table, key_id, region
        self._kms = kms
        self._lock = threading.Lock()
        self._ciphers: dict[tuple[str, str], Any] = {}  # (pk, kid) -> AESSIV
        self._keys: dict[tuple[str, str], bytes] = {}  # (pk, kid) -> the unwrapped key (the pseudonyms' HMAC key)

    @property
    def kms(self) -> Any:
        with self._lock:  # made once, whichever thread asks first
            if self._kms is None:
                import boto3

                self._kms = boto3.client("kms", region_name=self.region)
        return self._kms

    # -- write --------------------------------------------------------------------------

    def seal(self, org: str, entries: list[Entry], count: bool = True) -> list[Entry]:
        """Copies of ``entries`` with their personal fields sealed (a value sealed already is kept as it is).

        ``count``: add each entry to its subjects' counts (a new entry; not an update of a stored one). One
        conditional update of each subject's key item per call, which also answers the key.
        """
        wanted: dict[Subject, int] = {}
        for entry in entries:
            for subject in {actor_subject(entry), entity_subject(entry)}:
                if subject is not None:
                    wanted[subject] = wanted.get(subject, 0) + 1
        if not wanted:
            return entries
        keys = _each(lambda item: self._write_key(org, item[0], item[1] if count else 0), list(wanted.items()))
        live = dict(zip(wanted, keys, strict=True))
        return [self._sealed(org, entry, live) for entry in entries]

    def _sealed(self, org: str, entry: Entry, live: dict[Subject, tuple[str, Any]]) -> Entry:
        actor, entity, changes = entry.actor, entry.entity, entry.changes
        who = actor_subject(entry)
        if who is not None and not is_token(actor["name"]):
            actor = {**actor, "name": self._token(org, who, live[who], actor["name"])}
        what = entity_subject(entry)
        if what is not None:
            entity = dict(entity or {})
            if entity.get("label") and not is_token(entity["label"]):
                entity["label"] = self._token(org, what, live[what], entity["label"])
            if changes:
                changes = {
                    pointer: (
                        {
                            side: value if is_token(value) else self._token(org, what, live[what], value)
                            for side, value in change.items()
                        }
                        if _personal_pointer(pointer) and isinstance(change, dict)
                        else change
                    )
                    for pointer, change in changes.items()
                }
        return replace(entry, actor=actor, entity=entity, changes=changes)

    def _token(self, org: str, subject: Subject, key: tuple[str, Any], value: Any) -> str:
        kid, cipher = key
        sealed = cipher.encrypt(json.dumps(value, ensure_ascii=False).encode(), [_bound(org, subject, kid)])
        text = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()
        return f"{TOKEN_PREFIX}{subject.kind}~{subject.id}~{kid}~{text}"

    def _write_key(self, org: str, subject: Subject, entries: int) -> tuple[str, Any]:
        """The subject's live key (made if it has none), with ``entries`` counted under it."""
        pk = subject.pk(org)
        for _ in range(CREATE_ATTEMPTS):
            claimed = self.table.claim(pk, entries)
            if claimed is not None:
                kid, wrapped = claimed
                return kid, self._cipher(org, pk, kid, wrapped)
            made = self.kms.generate_data_key(KeyId=self.key_id, NumberOfBytes=64, EncryptionContext=_context(org))
            kid = secrets.token_hex(6)
            if self.table.create(pk, kid, made["CiphertextBlob"], entries):
                return kid, self._remember(pk, kid, made["Plaintext"])
            # another writer made the subject's key first: use theirs
        raise Unavailable("the subject keys keep changing under this write; retry", "subject")

    # -- show ---------------------------------------------------------------------------

    def reveal_entries(self, org: str, entries: list[Entry]) -> list[Entry]:
        """Copies of ``entries`` as they are shown: each sealed value opened, or ``[erased]``."""
        shown = self.reveal(org, [{"actor": e.actor, "entity": e.entity, "changes": e.changes} for e in entries])
        return [
            replace(entry, actor=fields["actor"], entity=fields["entity"], changes=fields["changes"])
            for entry, fields in zip(entries, shown, strict=True)
        ]

    def reveal(self, org: str, document: Any) -> Any:
        """``document`` (any JSON value: a view, an archive line) with every token opened, or ``[erased]``."""
        tokens: set[str] = set()
        _collect(document, tokens)
        if not tokens:
            return document
        opened = self._open(org, tokens)
        return _replaced(document, opened)

    def _open(self, org: str, tokens: set[str]) -> dict[str, Any]:
        parsed = {token: parse_token(token) for token in tokens}
        live = self.table.current(sorted({Subject(kind, sid).pk(org) for kind, sid, _, _ in parsed.values()}))
        # A cold container unwraps the page's keys together, not one KMS call after another.
        cold = {(pk, kid, wrapped) for pk, (kid, wrapped) in live.items() if (pk, kid) not in self._ciphers}
        _each(lambda key: self._cipher(org, *key), sorted(cold))
        opened: dict[str, Any] = {}
        for token, (kind, subject_id, kid, text) in parsed.items():
            subject = Subject(kind, subject_id)
            pk = subject.pk(org)
            current = live.get(pk)
            if current is None or current[0] != kid:  # erased (since, a new key may have been made)
                opened[token] = ERASED
                continue
            cipher = self._cipher(org, pk, kid, current[1])
            try:
                sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
                opened[token] = json.loads(cipher.decrypt(sealed, [_bound(org, subject, kid)]))
            except (InvalidTag, ValueError):  # not sealed under this key (a forged or garbled token): nothing to show
                opened[token] = ERASED
        return opened

    # -- erase --------------------------------------------------------------------------

    def erase(self, org: str, subject: Subject) -> Optional[int]:
        """Destroy the subject's key: how many entries were sealed under it, or None when it had no key."""
        pk = subject.pk(org)
        destroyed = self.table.destroy(pk)
        for cached in [key for key in self._ciphers if key[0] == pk]:
            self._ciphers.pop(cached, None)
            self._keys.pop(cached, None)
        return None if destroyed is None else destroyed[1]

    def pseudonym(self, org: str, subject: Subject) -> str:
        """A keyed fingerprint of the subject (HMAC-SHA256 under the org's pseudonym key): the same subject
        always gets the same one, and nobody without the key can tell whose it is."""
        kind, sid = _PSEUDONYMS
        kid, _ = self._write_key(org, Subject(kind, sid), 0)
        key = self._keys[(Subject(kind, sid).pk(org), kid)]
        return hmac.new(key, f"{subject.kind}:{subject.id}".encode(), hashlib.sha256).hexdigest()[:32]

    # -- keys ---------------------------------------------------------------------------

    def _cipher(self, org: str, pk: str, kid: str, wrapped: bytes) -> Any:
        cached = self._ciphers.get((pk, kid))
        if cached is not None:
            return cached
        plain = self.kms.decrypt(CiphertextBlob=wrapped, KeyId=self.key_id, EncryptionContext=_context(org))
        return self._remember(pk, kid, plain["Plaintext"])

    def _remember(self, pk: str, kid: str, key: bytes) -> Any:
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV

        if len(self._ciphers) >= CACHE_LIMIT:
            self._ciphers.clear()
            self._keys.clear()
        cipher = AESSIV(key)
        self._ciphers[(pk, kid)] = cipher
        self._keys[(pk, kid)] = key
        return cipher


def _each(work: Callable[[Any], Any], items: list) -> list:
    """``work`` on each item, answered in order; several at once, on threads."""
    if len(items) < 2:
        return [work(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(items))) as pool:
        return list(pool.map(work, items))


def _context(org: str) -> dict[str, str]:
    """The KMS encryption context of an org's subject keys: a key unwraps only for its own org."""
    return {"purpose": "activitylog-subject-key", "org": org}


def _bound(org: str, subject: Subject, kid: str) -> bytes:
    return f"{org}\x1f{subject.kind}\x1f{subject.id}\x1f{kid}".encode()


def _collect(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        if value.startswith(TOKEN_PREFIX):
            into.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, into)


def _replaced(value: Any, opened: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return opened.get(value, value)
    if isinstance(value, dict):
        return {name: _replaced(item, opened) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replaced(item, opened) for item in value]
    return value
