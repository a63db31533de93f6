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

from activitylog_local.dynamodb import SetupError
from activitylog_local.intrinsics import REGION

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

    def versions(self, key: str) -> list[dict]:
        """A stopped stack keeps the current objects only."""
        body = self.get(key)
        return [] if body is None else [{"version": "saved", "deleted": False, "body": body, "at": None}]


@dataclass
class Sources:
    archive: Any  # Objects
    digests: Any  # Objects
    folder: Optional[Path]  # the archive bucket's folder, when it is one (DuckDB reads it as is)
    where: str  # for messages
    kms_dir: Optional[Path]  # the local signing keys (None in AWS: KMS)


def sources(data_dir: Path, archive_bucket: Optional[str] = None, digest_bucket: Optional[str] = None) -> Sources:
    """Where the archive and the digests are: AWS buckets if named, else the local stack's."""
    if archive_bucket:
        from activitylog.archive.store import S3Objects

        return Sources(S3Objects(archive_bucket), S3Objects(digest_bucket) if digest_bucket else None, None,
                       f"s3://{archive_bucket}", None)
    state_file = data_dir / "stack.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    buckets = state.get("buckets") or {"ArchiveBucket": f"{STACK_NAME}-archivebucket", "DigestBucket": f"{STACK_NAME}-digestbucket"}
    kms_dir = data_dir / "kms"
    if state.get("aws_endpoint") and _alive(state.get("pid")):
        import boto3

        from activitylog.archive.store import S3Objects

        client = boto3.client("s3", endpoint_url=state["aws_endpoint"], region_name=REGION,
                              aws_access_key_id="local", aws_secret_access_key="local")
        return Sources(S3Objects(buckets["ArchiveBucket"], client), S3Objects(buckets["DigestBucket"], client), None,
                       f"the running stack's s3://{buckets['ArchiveBucket']}", kms_dir)
    folder = data_dir / "s3" / buckets["ArchiveBucket"]
    if not folder.exists():
        raise SetupError(f"no archive at {folder}: start the stack (make dev) or name a bucket with --archive-bucket")
    return Sources(FolderObjects(folder), FolderObjects(data_dir / "s3" / buckets["DigestBucket"]), folder, str(folder), kms_dir)


def public_keys(found: Sources):
    """The public key of a digest's ``signing_key``: the local key file, or KMS."""
    from activitylog.archive.signing import KmsSigner, LocalSigner, local_key_path

    def public_key(key_id: str) -> bytes:
        if found.kms_dir is None:
            return KmsSigner(key_id).public_key()
        path = local_key_path(found.kms_dir, key_id)
        if not path.exists():  # never made up: a digest signed by a key we do not have cannot be checked
            raise SetupError(f"no local signing key {key_id} in {found.kms_dir}")
        return LocalSigner(path, key_id).public_key()

    return public_key


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True
