"""The S3 side of the archive and its digests: the only module here that talks to S3.

``S3Objects`` is one bucket seen as keys and bytes; the archive, the digests and the
command-line tools all read through that shape (a local folder can stand in for it:
``activitylog_local.archive.FolderObjects``). Data objects are gzip JSON lines.

>>> line = Line.parse('{"id":"01JDQ7Z9K3M5N7P9R1T3V5X7Z9","org":"org_1","seq":"42","change":"INSERT"}')
>>> unpack_lines(pack_lines([line]))[0].entry_id, pack_lines([line]) == pack_lines([line])
('01JDQ7Z9K3M5N7P9R1T3V5X7Z9', True)
"""

from __future__ import annotations

import gzip
from typing import Any, Iterator, Optional, Protocol

from activitylog.archive import layout
from activitylog.archive.lines import Line
from activitylog.retention_policy import ARCHIVE_TAG


class Objects(Protocol):
    """What reading the archive needs of a bucket (S3, or a folder of its objects)."""

    def keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]: ...

    def get(self, key: str) -> Optional[bytes]: ...


def pack_lines(lines: list[Line]) -> bytes:
    """Lines as a gzip object; the same lines always give the same bytes (no time in the header)."""
    return gzip.compress("".join(f"{line.text}\n" for line in lines).encode(), compresslevel=6, mtime=0)


def unpack_lines(body: bytes) -> list[Line]:
    # "\n" only: str.splitlines() would also split at U+2028 and the like, which JSON strings may hold.
    return [Line.parse(text) for text in gzip.decompress(body).decode().split("\n") if text]


class S3Objects:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Bounded: a stuck request fails the invocation (and the batch is retried) long before its timeout.
            self._client = boto3.client(
                "s3", config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 4, "mode": "standard"})
            )
        return self._client

    def keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
            for item in page.get("Contents", []):
                yield item["Key"]

    def prefixes(self, prefix: str) -> Iterator[str]:
        """The "folders" right under ``prefix`` (a listing with a "/" delimiter: no object is listed)."""
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                yield common["Prefix"]

    def get(self, key: str) -> Optional[bytes]:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def put(self, key: str, body: bytes, content_type: str = "application/json", tag: Optional[str] = None) -> None:
        extra = {"Tagging": f"{ARCHIVE_TAG}={tag}"} if tag else {}
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra)

    def listed_versions(self, prefix: str) -> Iterator[dict]:
        """Every version and delete marker under ``prefix``, page after page, without reading a body:
        ``{"key", "version", "deleted", "latest"}``."""
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            for version in page.get("Versions", []):
                yield {
                    "key": version["Key"],
                    "version": version["VersionId"],
                    "deleted": False,
                    "latest": version["IsLatest"],
                }
            for marker in page.get("DeleteMarkers", []):
                yield {
                    "key": marker["Key"],
                    "version": marker["VersionId"],
                    "deleted": True,
                    "latest": marker["IsLatest"],
                }

    def get_version(self, key: str, version: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version)["Body"].read()


class ArchiveStore(S3Objects):
    """The archive bucket (``ARCHIVE_BUCKET``)."""

    def put_lines(self, key: str, lines: list[Line], tag: str) -> None:
        self.put(key, pack_lines(lines), content_type="application/x-ndjson", tag=tag)

    def retag(self, org: str, tag: str, after_key: Optional[str], limit: int) -> tuple[int, Optional[str]]:
        """Give up to ``limit`` of the org's archive objects after ``after_key`` the retention tag ``tag``;
        (how many, the last key when more may follow)."""
        done, last = 0, None
        for key in self.keys(layout.org_prefix(org), start_after=after_key):
            self.client.put_object_tagging(
                Bucket=self.bucket, Key=key, Tagging={"TagSet": [{"Key": ARCHIVE_TAG, "Value": tag}]}
            )
            done, last = done + 1, key
            if done >= limit:
                return done, last
        return done, None
