"""Entry details (changes, metadata, error, source, links) travel as one compressed blob.

Compressing keeps a typical 1 KB entry inside one write unit; a detail still larger
than ``OFFLOAD_BYTES`` after compression goes to S3 and the item keeps only its key,
far below DynamoDB's 400 KB item limit (and a 100-entry batch below the 4 MB
transaction limit). Reads return the detail whole either way.
"""

from __future__ import annotations

import json
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from activitylog.buckets import Bucket

OFFLOAD_BYTES = 32 * 1024
PARALLEL_READS = 10  # offloaded details read at once: botocore's default connection pool holds 10


def pack(detail: dict) -> bytes:
    """The detail as one compressed blob.

    >>> unpack(pack({"metadata": {"processed": 500}}))
    {'metadata': {'processed': 500}}
    """
    return zlib.compress(json.dumps(detail, separators=(",", ":"), default=str).encode(), 6)


def unpack(blob: Optional[bytes]) -> dict:
    return json.loads(zlib.decompress(blob)) if blob else {}


DETAIL_TAG = "detail-retention"  # the object tag DetailBucket's lifecycle rules expire a detail by


def detail_tag(retention_days: int) -> str:
    """The tag value of a detail whose entry stays ``retention_days`` hot (``"730d"``)."""
    return f"{retention_days}d"


def detail_key(org: str, entry_id: str, retention_days: int) -> str:
    """A fresh key for one write attempt's detail.

    Unique per attempt: an attempt that loses a race never overwrites the object the
    winner's item points at. The key names the retention period it was written under; what
    expires it is its ``detail-retention`` tag (``DetailStore.put``, ``retag``), which a
    retention change moves with its entry's expiry. The ``details/`` prefix is the one
    template.yaml's lifecycle rules and the objects already stored use.

    >>> detail_key("org_1", "01M8AP55CB939ADHT5N4N8XQT2", 730)  # doctest: +ELLIPSIS
    'details/730d/org_1/01M8AP55CB939ADHT5N4N8XQT2/....json.z'
    """
    return f"details/{retention_days}d/{org}/{entry_id}/{uuid.uuid4().hex}.json.z"


class DetailStore(Bucket):
    """The S3 side of large details. boto3 is imported only when a large detail appears.

    The bucket is ``Settings.detail_bucket`` (the ``DETAIL_BUCKET`` variable).

    Each object carries its entry's retention class as the tag ``detail-retention``: one
    lifecycle rule per class removes it a day after its entry can expire (counted, like the
    entry's expiry, from about when it occurred: the object is written when the entry is):
    ``DetailStore(bucket).put(detail_key(org, entry_id, 730), pack(detail), 730)``.
    """

    def put(self, key: str, blob: bytes, retention_days: Optional[int] = None) -> None:
        """Store a blob; an entry's detail (``retention_days`` given) tagged with its class."""
        if not self.bucket:
            raise RuntimeError("DETAIL_BUCKET is not set: cannot store a detail larger than one item")
        tagging: dict[str, Any] = {"Tagging": f"{DETAIL_TAG}={detail_tag(retention_days)}"} if retention_days else {}
        self.client.put_object(Bucket=self.bucket, Key=key, Body=blob, ContentType="application/zlib", **tagging)

    @property
    def _name(self) -> str:
        """The bucket, for reaching a detail stored already (only a function with the bucket has one to reach)."""
        if not self.bucket:
            raise RuntimeError("DETAIL_BUCKET is not set: cannot reach a detail stored in S3")
        return self.bucket

    def retag(self, key: str, retention_days: int) -> bool:
        """Move a detail to another retention class (its entry's expiry moved); False if it is gone."""
        try:
            self.client.put_object_tagging(
                Bucket=self._name,
                Key=key,
                Tagging={"TagSet": [{"Key": DETAIL_TAG, "Value": detail_tag(retention_days)}]},
            )
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "MethodNotAllowed"):
                return False  # replaced meanwhile (its successor has the new class already) or expired
            raise
        return True

    def get(self, key: str, any_version: bool = False) -> Optional[bytes]:
        """The object, or None if it is missing (deleted, or expired by a lifecycle rule).

        ``any_version``: a deleted object's last version, which the versioned bucket keeps a
        day (the archive reads the detail of a version an update has replaced since).
        """
        try:
            return self.client.get_object(Bucket=self._name, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            if not any_version:
                return None
        versions = self.client.list_object_versions(Bucket=self._name, Prefix=key).get("Versions", [])
        kept = sorted((v for v in versions if v["Key"] == key), key=lambda v: v["LastModified"], reverse=True)
        if not kept:
            return None
        return self.client.get_object(Bucket=self._name, Key=key, VersionId=kept[0]["VersionId"])["Body"].read()

    def get_many(self, keys: list[str], any_version: bool = False) -> dict[str, Optional[bytes]]:
        """Each object by its key (``get``), read ``PARALLEL_READS`` at a time: a page of offloaded
        details costs a few round trips, not one per entry (an export answered inside the API's 29 s)."""
        unique = list(dict.fromkeys(keys))
        if len(unique) <= 1:
            return {key: self.get(key, any_version) for key in unique}
        self.client  # noqa: B018 - made once, before the threads share it (boto3 clients are thread-safe)
        with ThreadPoolExecutor(max_workers=min(PARALLEL_READS, len(unique))) as pool:
            return dict(zip(unique, pool.map(lambda key: self.get(key, any_version), unique), strict=True))

    def delete(self, keys: list[str]) -> None:
        """Remove objects no item points at (a failed or superseded write). Best effort:
        what is left behind expires with the bucket's lifecycle rules."""
        if not keys or not self.bucket:
            return
        try:
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except Exception:  # noqa: BLE001 - cleanup must never turn a write's answer into an error
            from activitylog.observability import logger

            logger.exception("could not delete detail objects", extra={"keys": keys})
