"""Digest signatures: ECDSA P-256 over a SHA-256, by KMS in AWS and by a local key file in development.

KMS keeps the private key where nothing can read it (template.yaml's ``DigestSigningKey``:
``ECC_NIST_P256``, ``SIGN_VERIFY``); the digest function may only ask it to sign. On this
machine the local stack stands in for KMS with a key file per key id under
``ACTIVITYLOG_LOCAL_KMS_DIR``, made on first use. Both sign the same way, so a signature is
checked the same way: with the public key, offline.

>>> import hashlib, tempfile
>>> digest = hashlib.sha256(b"a digest document").digest()
>>> with tempfile.TemporaryDirectory() as folder:  # a local key; in AWS, signer_for(key_id) is KMS's
...     signer = signer_for("digest-key", folder)
...     check(signer.public_key(), digest, signer.sign(digest))
True
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

LOCAL_KMS_DIR = "ACTIVITYLOG_LOCAL_KMS_DIR"


class Signer(Protocol):
    key_id: str

    def sign(self, digest: bytes) -> bytes:
        """A DER ECDSA signature of a SHA-256 digest."""

    def public_key(self) -> bytes:
        """The public key, DER SubjectPublicKeyInfo (what KMS GetPublicKey answers)."""


class KmsSigner:
    def __init__(self, key_id: str, client: Any = None) -> None:
        self.key_id = key_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kms")
        return self._client

    def sign(self, digest: bytes) -> bytes:
        return self.client.sign(
            KeyId=self.key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
        )["Signature"]

    def public_key(self) -> bytes:
        return self.client.get_public_key(KeyId=self.key_id)["PublicKey"]


class LocalSigner:
    """A P-256 key in a PEM file (0600), made on first use; development only."""

    def __init__(self, path: Path, key_id: str) -> None:
        self.path, self.key_id = path, key_id
        self._key: Optional[EllipticCurvePrivateKey] = None

    def _private(self) -> EllipticCurvePrivateKey:
        if self._key is None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec

            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
                temporary.write_bytes(pem)
                os.chmod(temporary, 0o600)
                try:
                    os.link(temporary, self.path)  # fails if another process made it first: theirs is the key
                except FileExistsError:
                    pass
                finally:
                    temporary.unlink()
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):  # another kind cannot sign ECDSA either
                raise TypeError(f"{self.path} holds a {type(key).__name__}, not a P-256 key")
            self._key = key
        return self._key

    def sign(self, digest: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, utils

        return self._private().sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    def public_key(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return (
            self._private()
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


def local_key_path(folder: Path, key_id: str) -> Path:
    return Path(folder) / (re.sub(r"[^A-Za-z0-9_.-]", "_", key_id) + ".pem")


def signer_for(key_id: str, local_folder: Optional[str] = None) -> Signer:
    """KMS, unless the local stack says where its local keys are (``Settings.local_kms_dir``, ``ACTIVITYLOG_LOCAL_KMS_DIR``)."""
    folder = local_folder
    if folder:
        return LocalSigner(local_key_path(Path(folder), key_id), key_id)
    return KmsSigner(key_id)


def check(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the key's signature of the SHA-256 ``digest``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    key = serialization.load_der_public_key(public_key)
    if not isinstance(key, ec.EllipticCurvePublicKey):  # another kind cannot verify ECDSA either
        raise TypeError(f"a {type(key).__name__} cannot check an ECDSA signature")
    try:
        key.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True
