"""The archive and its digests as the command line reads them (``activitylog archive query``,
``activitylog verify``): from the running stack's S3, from the folder a stopped stack keeps its
buckets in (``.local/s3``), or from buckets in AWS (``--archive-bucket``, with your credentials).

>>> objects, digests = sources(Path(".local"))
>>> next(objects.keys("archive/org=org_demo/"))
'archive/org=org_demo/date=2026-11-27/09-000000000000000000412.jsonl.gz'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from samlocal.dynamodb import SetupError
from samlocal.intrinsics import REGION

STACK_NAME = "activitylog-local"  # StackOptions.stack_name: bucket names are "{stack}-{logicalid}"


class FolderObjects:
    """A bucket saved as files, one per key (``LocalStack._save_buckets``): keys and bytes, as S3 gives them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.exists():
            return
        found = sorted(path.relative_to(self.root).as_posix() for path in base.rglob("*") if path.is_file())
        for key in found:
            if key.startswith(prefix) and (start_after is None or key > start_after):
                yield key

    def get(self, key: str) -> Optional[bytes]:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def listed_versions(self, prefix: str) -> Iterator[dict]:
        """A stopped stack keeps the current objects only: one version each."""
        for key in self.keys(prefix):
            yield {"key": key, "version": "saved", "deleted": False, "latest": True}

    def get_version(self, key: str, version: str) -> bytes:
        return self.get(key) or b""


@dataclass
class Sources:
    archive: Any  # Objects
    digests: Any  # Objects
    folder: Optional[Path]  # the archive bucket's folder, when it is one (DuckDB reads it as is)
    where: str  # for messages
    kms_dir: Optional[Path]  # the local signing keys (None in AWS: KMS)
    warm: Any = None  # Objects of the warm bucket (compacted Parquet files), when there is one


def sources(data_dir: Path, archive_bucket: Optional[str] = None, digest_bucket: Optional[str] = None,
            warm_bucket: Optional[str] = None) -> Sources:
    """Where the archive, the digests and the warm files are: AWS buckets if named, else the local stack's."""
    if archive_bucket:
        from activitylog.archive.store import S3Objects

        return Sources(S3Objects(archive_bucket), S3Objects(digest_bucket) if digest_bucket else None, None,
                       f"s3://{archive_bucket}", None, S3Objects(warm_bucket) if warm_bucket else None)
    state_file = data_dir / "stack.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    buckets = state.get("buckets") or {"ArchiveBucket": f"{STACK_NAME}-archivebucket", "DigestBucket": f"{STACK_NAME}-digestbucket"}
    warm = buckets.get("WarmBucket", f"{STACK_NAME}-warmbucket")
    kms_dir = data_dir / "kms"
    if state.get("aws_endpoint") and _alive(state.get("pid")):
        import boto3

        from activitylog.archive.store import S3Objects

        client = boto3.client("s3", endpoint_url=state["aws_endpoint"], region_name=REGION,
                              aws_access_key_id="local", aws_secret_access_key="local")
        return Sources(S3Objects(buckets["ArchiveBucket"], client), S3Objects(buckets["DigestBucket"], client), None,
                       f"the running stack's s3://{buckets['ArchiveBucket']}", kms_dir,
                       S3Objects(warm, client) if "WarmBucket" in buckets else None)
    folder = data_dir / "s3" / buckets["ArchiveBucket"]
    if not folder.exists():
        raise SetupError(f"no archive at {folder}: start the stack (make dev) or name a bucket with --archive-bucket")
    return Sources(FolderObjects(folder), FolderObjects(data_dir / "s3" / buckets["DigestBucket"]), folder, str(folder), kms_dir,
                   FolderObjects(data_dir / "s3" / warm))


def pinned_keys(found: Sources, public_key_files: list[Path], signing_keys: list[str]) -> list[bytes]:
    """The public keys ``verify`` trusts (DER), from configuration, never from the bucket: each
    ``--public-key`` file (PEM), each ``--signing-key`` (a KMS key id or ARN: its public key), and on
    the local stack its signing key files (``.local/kms/*.pem``). Name the deployment's key and
    every key it replaced."""
    from cryptography.hazmat.primitives import serialization

    from activitylog.archive.signing import KmsSigner, LocalSigner

    keys = []
    for path in public_key_files:
        text = Path(path).read_bytes()
        try:
            key = serialization.load_pem_public_key(text)
        except ValueError:
            key = serialization.load_pem_private_key(text, password=None).public_key()
        keys.append(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    keys += [KmsSigner(key_id).public_key() for key_id in signing_keys]
    if not keys and found.kms_dir is not None and found.kms_dir.is_dir():
        keys += [LocalSigner(path, path.stem).public_key() for path in sorted(found.kms_dir.glob("*.pem"))]
    if not keys:
        raise SetupError("no pinned signing key: name the deployment's digest signing key (and each it replaced) with "
                         "--signing-key <KMS key ARN> or --public-key <PEM file>")
    return keys


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True
