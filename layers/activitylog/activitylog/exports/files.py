"""The S3 side of exports: one multipart upload per large export, its digest, presigned downloads.

Parts are numbered from 1 and uploaded whole (S3 takes at least 5 MiB in every part but the
last); a retried part overwrites itself, so a retried worker step is harmless. The upload
is completed from S3's own list of parts, so the Step Functions state never carries their
ETags (10,000 of them would pass its 256 KB limit): ``upload_id = files.start(key, filename)``,
then ``files.put_part(key, upload_id, number, data)`` for each part.
"""

from __future__ import annotations

import hashlib

from activitylog.buckets import Bucket

CONTENT_TYPE = "text/csv; charset=utf-8"
READ_CHUNK = 1024 * 1024


def export_key(org: str, export_id: str) -> str:
    """Where an export's file lives (the bucket's lifecycle rule expires ``exports/``)."""
    return f"exports/{org}/{export_id}.csv"


class ExportFiles(Bucket):
    """The export bucket (``ExportSettings.bucket``, ``EXPORT_BUCKET``)."""

    @property
    def client(self):
        if not self.bucket:
            raise RuntimeError("EXPORT_BUCKET is not set: large exports need their bucket")
        return super().client

    def start(self, key: str, filename: str) -> str:
        """A new multipart upload; the object downloads as ``filename``."""
        answer = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=CONTENT_TYPE, ContentDisposition=_attachment(filename)
        )
        return answer["UploadId"]

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> None:
        self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)

    def finish(self, key: str, upload_id: str, parts: int, size: int) -> int:
        """Complete the upload from the parts S3 holds; the number of parts.

        Idempotent: a retry whose upload was completed already (the first attempt's answer lost
        to a timeout or a dropped connection) finds ``NoSuchUpload``, and accepts the object
        under the key when it is that upload's file: a multipart object of ``parts`` parts
        (its ETag ends ``-parts``) and ``size`` bytes. Anything else is an error.
        """
        try:
            listed = []
            for page in self.client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            ):
                listed += [{"PartNumber": part["PartNumber"], "ETag": part["ETag"]} for part in page.get("Parts", [])]
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
            return len(listed)
        except self.client.exceptions.NoSuchUpload:
            pass
        try:
            stored = self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError:
            stored = {}
        if stored.get("ETag", "").strip('"').endswith(f"-{parts}") and stored.get("ContentLength") == size:
            return parts
        raise RuntimeError(
            f"upload {upload_id} is gone and {key} is not its file ({parts} parts, {size} bytes): "
            f"S3 holds {stored.get('ContentLength', 'no object')} bytes, ETag {stored.get('ETag')}"
        )

    def abort(self, key: str, upload_id: str) -> None:
        """Drop an unfinished upload's parts (an upload already gone is fine)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except self.client.exceptions.NoSuchUpload:
            pass

    def digest(self, key: str) -> tuple[str, int]:
        """The SHA-256 (hex) and size of the stored file, read back in chunks: constant memory.

        Read back, not carried: a hash's running state cannot leave the process that holds it
        (hashlib has no way out, and the resumable hash packages lack wheels for Lambda's
        arm64), and a digest of what S3 serves also proves every part arrived whole.
        """
        sha256, size = hashlib.sha256(), 0
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(READ_CHUNK):
            sha256.update(chunk)
            size += len(chunk)
        return sha256.hexdigest(), size

    def presign(self, key: str, filename: str, seconds: int) -> str:
        """A GET URL for the file, valid ``seconds`` (signed with this function's own credentials)."""
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": _attachment(filename),
                "ResponseContentType": CONTENT_TYPE,
            },
            ExpiresIn=seconds,
        )


def _attachment(filename: str) -> str:
    return f'attachment; filename="{filename}"'
