"""Masked fields: an entry records that a sensitive field changed, never its value.

A field is masked when its path matches one of the org's patterns or a built-in one: JSON
Pointers (RFC 6901) where a segment ``*`` is any one segment and ``**`` any number of them
(``/ssn``, ``/**/password``, ``/payment/card_number``). Segments compare as
``redaction.plain_name`` compares names (``cardNumber``, ``Card-Number`` and ``card_number``
are one name), and an array's items are segments ``0``, ``1``, ... The built-in patterns are
``/**/<name>`` for every field name ``activitylog.redaction`` erases from webhook bodies
(passwords, secrets, tokens, card numbers, CVCs, bank accounts, ...) and ``token``.

On write (``EntryStore._to_item``: every path that records or amends an entry), a masked
field's value in ``changes`` (the diff of ``before``/``after``, or the writer's own) and in
``metadata`` becomes a marker::

    {"hidden": "changed (hidden)", "fingerprint": "hmac-sha256:<64 hex>"}

The fingerprint is an HMAC-SHA256 of the value (canonical JSON) under the org's own key
(``MaskKeys``: a random key per org, kept in the table encrypted under the service key), so
the same value in one org has the same fingerprint, in another org a different one, and the
value cannot be read back. A masked field whose before and after have the same value is no
change. A marker already there (a job update re-saving its entry) is kept as it is.

Powertools' data masking erases: ``DataMasking(provider=Fingerprints(key)).erase(value)``, the
provider answering the marker. Where it does not fit: its field selection is JSONPath, which
has no ``**`` over JSON Pointer segments and cannot compare names without case or
separators (nor spell every key a JSON document may hold), so the walk that finds the masked
fields is ``FieldMask``'s own; and its own masks ("*****", or the AWS Encryption SDK's
encryption, random per call) cannot say whether two values are the same.

>>> mask = FieldMask(compile_patterns(["/ssn"]), key=lambda: b"k" * 32)
>>> masked = mask.document({"ssn": "123-45-6789", "name": "Alex", "login": {"Password": "hunter2"}})
>>> masked["name"], masked["ssn"]["hidden"], is_marker(masked["login"]["Password"])
('Alex', 'changed (hidden)', True)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Optional

from activitylog.errors import BadRequest
from activitylog.redaction import MASK, SECRET_FIELDS, plain_name

if TYPE_CHECKING:
    from activitylog.entry import Entry

HIDDEN = "changed (hidden)"
FINGERPRINT_PREFIX = "hmac-sha256:"
_FINGERPRINT = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")
# What the built-in patterns mask: the names webhook bodies are redacted of, and a plain "token".
DEFAULT_NAMES = (*SECRET_FIELDS, "token")
DEFAULT_PATTERNS = tuple(f"/**/{name}" for name in DEFAULT_NAMES)
MAX_PATTERNS = 100
MAX_PATTERN_CHARACTERS = 512
KEY_CONTEXT = "mask-fingerprint"  # the KMS encryption context's "use": only this purpose decrypts the org keys


# -- the marker -----------------------------------------------------------------------------------------------


def marker(fingerprint: str) -> dict:
    return {"hidden": HIDDEN, "fingerprint": fingerprint}


def is_marker(value: Any) -> bool:
    """Whether ``value`` is a masked field's marker (a stored one is never masked again)."""
    return (
        isinstance(value, dict)
        and value.keys() == {"hidden", "fingerprint"}
        and value["hidden"] == HIDDEN
        and isinstance(value["fingerprint"], str)
        and bool(_FINGERPRINT.match(value["fingerprint"]))
    )


def fingerprint(key: bytes, value: Any) -> str:
    """The keyed fingerprint of a JSON value: equal values (as JSON: ``1`` and ``1.0``, any key order) alike."""
    canonical = json.dumps(_normal(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return FINGERPRINT_PREFIX + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _normal(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return value


@lru_cache(maxsize=1)
def _fingerprints() -> type:
    """A Powertools data masking provider whose ``erase`` answers the value's marker (imported when first masking)."""
    from aws_lambda_powertools.utilities.data_masking.provider import BaseProvider

    class Fingerprints(BaseProvider):
        def __init__(self, key: bytes) -> None:
            super().__init__()
            self.key = key

        def erase(self, data: Any, *_: Any, **__: Any) -> dict:  # its masks and options are not ours
            return marker(fingerprint(self.key, data))

    return Fingerprints


def eraser(key: bytes) -> Callable[[Any], dict]:
    """Powertools' ``DataMasking.erase`` with the fingerprint provider: value -> marker."""
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    masking = DataMasking(provider=_fingerprints()(key), raise_on_missing_field=False)
    return masking.erase


# -- patterns -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldPattern:
    text: str
    parts: tuple[str, ...]  # plain names, "*" (one segment) or "**" (any number)

    def matches(self, path: tuple[str, ...]) -> bool:
        return _match(self.parts, 0, path, 0, {})


def _match(parts: tuple[str, ...], i: int, path: tuple[str, ...], j: int, seen: dict) -> bool:
    if (i, j) in seen:
        return seen[(i, j)]
    if i == len(parts):
        found = j == len(path)
    elif parts[i] == "**":
        found = _match(parts, i + 1, path, j, seen) or (j < len(path) and _match(parts, i, path, j + 1, seen))
    else:
        found = j < len(path) and parts[i] in ("*", path[j]) and _match(parts, i + 1, path, j + 1, seen)
    seen[(i, j)] = found
    return found


def pattern_problem(text: Any) -> Optional[str]:
    """Why ``text`` is not a pattern, or None."""
    if not isinstance(text, str):
        return "must be a JSON Pointer string, e.g. /ssn or /**/password"
    if not text.startswith("/") or len(text) > MAX_PATTERN_CHARACTERS:
        return f"must be a JSON Pointer (starting with /, at most {MAX_PATTERN_CHARACTERS} characters), e.g. /ssn"
    if re.search(r"~(?![01])", text):
        return "has a ~ not followed by 0 or 1 (RFC 6901 writes ~ as ~0 and / as ~1)"
    segments = _segments(text)
    if any(segment == "" for segment in segments):
        return "has an empty segment (//): name each field on the path"
    if any("*" in segment and segment not in ("*", "**") for segment in segments):
        return "* stands for a whole segment only (/*/password, /**/password), not part of a name"
    if all(segment in ("*", "**") for segment in segments):
        return "must name a field: a pattern of wildcards alone would hide every field"
    return None


def _segments(text: str) -> list[str]:
    return [segment.replace("~1", "/").replace("~0", "~") for segment in text.split("/")[1:]]


def compile_patterns(texts: list[str]) -> tuple[FieldPattern, ...]:
    """The built-in patterns and ``texts`` (checked already), compiled."""
    compiled = []
    for text in (*DEFAULT_PATTERNS, *texts):
        parts = tuple(segment if segment in ("*", "**") else plain_name(segment) for segment in _segments(text))
        compiled.append(FieldPattern(text, parts))
    return tuple(compiled)


def check_patterns(body: Any) -> list[str]:
    """``PUT /settings/privacy``'s body, ``{"patterns": [...]}``: the patterns, unique, in order; a 400 naming the field."""
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"patterns": ["/ssn", ...]}', "body")
    unknown = sorted(set(body) - {"patterns"})
    if unknown:
        raise BadRequest(f"{unknown[0]} is not a privacy setting (send patterns)", unknown[0])
    patterns = body.get("patterns")
    if not isinstance(patterns, list):
        raise BadRequest(
            "patterns must be a list of JSON Pointer patterns (an empty list: the built-in ones only)", "patterns"
        )
    if len(patterns) > MAX_PATTERNS:
        raise BadRequest(f"patterns holds {len(patterns)} patterns; at most {MAX_PATTERNS}", "patterns")
    for index, text in enumerate(patterns):
        problem = pattern_problem(text)
        if problem:
            raise BadRequest(f"patterns.{index} {problem}", f"patterns.{index}")
    return list(dict.fromkeys(patterns))


# -- masking an entry ---------------------------------------------------------------------------------------


class FieldMask:
    """An org's masked fields and its fingerprint key (asked for only when a value is masked)."""

    def __init__(self, patterns: tuple[FieldPattern, ...], key: Callable[[], bytes]) -> None:
        self.patterns = patterns
        # ``/**/name`` (every built-in pattern) is a set lookup of the path's last name; the rest are matched
        self._names = frozenset(
            p.parts[1] for p in patterns if len(p.parts) == 2 and p.parts[0] == "**" and "*" not in p.parts[1]
        )
        self._others = tuple(
            p for p in patterns if not (len(p.parts) == 2 and p.parts[1] in self._names and p.parts[0] == "**")
        )
        self._key = key
        self._erase: Optional[Callable[[Any], dict]] = None

    def masked(self, path: tuple[str, ...]) -> bool:
        return bool(path) and (path[-1] in self._names or any(pattern.matches(path) for pattern in self._others))

    def apply(self, entry: "Entry") -> None:
        """Mask the entry's changes and metadata in place (what is stored, and what the writer is answered)."""
        if entry.changes:
            entry.changes = self.changes(entry.changes)
        if entry.metadata:
            entry.metadata = self.document(entry.metadata)

    def changes(self, changes: dict) -> dict:
        """``{pointer: {before?, after?}}`` with masked values as markers; a masked field that kept its value dropped."""
        from jsonpointer import JsonPointer

        from activitylog.diff import _json_equal

        out = {}
        for pointer, change in changes.items():
            path = tuple(plain_name(part) for part in JsonPointer(pointer).parts)
            whole = any(self.masked(path[:length]) for length in range(1, len(path) + 1))
            shown = {side: (self._hide(value) if whole else self._walk(value, path)) for side, value in change.items()}
            if "before" in shown and "after" in shown and _json_equal(shown["before"], shown["after"]):
                continue  # the same value before and after: no change
            out[pointer] = shown
        return out

    def document(self, document: Any, path: tuple[str, ...] = ()) -> Any:
        return self._walk(document, path)

    def _walk(self, value: Any, path: tuple[str, ...]) -> Any:
        if path and self.masked(path):
            return self._hide(value)
        if isinstance(value, dict):
            return {key: self._walk(item, (*path, plain_name(str(key)))) for key, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item, (*path, str(index))) for index, item in enumerate(value)]
        return value

    def _hide(self, value: Any) -> Any:
        if is_marker(value) or value == MASK:  # masked already; or erased by the webhook redaction: nothing to hide
            return value
        if self._erase is None:
            self._erase = eraser(self._key())
        return self._erase(value)


# -- the orgs' fingerprint keys -------------------------------------------------------------------------------


class MaskKeys:
    """Each org's fingerprint key: 32 random bytes, made once (a KMS data key under the service key), kept in
    the org's meta partition as KMS ciphertext only, and decrypted at most once per container.

    ``kms_key``: the service key's id; None (a deployment without one: tests of other features) keeps the key
    unwrapped, which only the store's own readers could read.
    """

    def __init__(self, store: Any, kms_key: Optional[str]) -> None:
        self.store, self.kms_key = store, kms_key
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._kms: Any = None

    def key(self, org: str) -> bytes:
        found = self._keys.get(org)
        if found is None:
            with self._lock:
                found = self._keys.get(org) or self._load(org)
                self._keys[org] = found
        return found

    def _context(self, org: str) -> dict[str, str]:
        return {"org": org, "use": KEY_CONTEXT}  # a key wrapped for one org does not decrypt as another's

    def _load(self, org: str) -> bytes:
        blob = self.store.mask_key(org)
        if blob is None:
            plaintext, blob = self._new(org)
            if self.store.put_mask_key(org, blob):
                return plaintext
            blob = self.store.mask_key(org)  # another writer made it first: theirs is the org's
            assert blob is not None
        return self._unwrap(org, blob)

    def _new(self, org: str) -> tuple[bytes, bytes]:
        if self.kms_key is None:
            plaintext = secrets.token_bytes(32)
            return plaintext, b"raw:" + plaintext
        made = self._client().generate_data_key(
            KeyId=self.kms_key, KeySpec="AES_256", EncryptionContext=self._context(org)
        )
        return made["Plaintext"], made["CiphertextBlob"]

    def _unwrap(self, org: str, blob: bytes) -> bytes:
        if blob.startswith(b"raw:"):
            if self.kms_key is not None:
                raise RuntimeError(f"org {org}'s fingerprint key is not wrapped under the service key")
            return blob[4:]
        return self._client().decrypt(CiphertextBlob=blob, EncryptionContext=self._context(org))["Plaintext"]

    def _client(self):
        if self._kms is None:
            import boto3

            from activitylog.config import client_config

            self._kms = boto3.client("kms", config=client_config())
        return self._kms
