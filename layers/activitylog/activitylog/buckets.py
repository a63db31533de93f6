"""One S3 bucket and its client, made when first used: boto3 stays off every path that never touches S3.

A store of objects subclasses ``Bucket`` (``details.DetailStore``, ``exports.files.ExportFiles``)
and calls ``self.client``, boto3's S3 client, built on its first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Bucket:
    def __init__(self, bucket: Optional[str]) -> None:
        self.bucket = bucket
        self._client: Optional[S3Client] = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Signature version 4: presigned URLs say how long they work (X-Amz-Expires), and SigV2 is retired.
            self._client = boto3.client("s3", config=Config(signature_version="s3v4"))
        return self._client
