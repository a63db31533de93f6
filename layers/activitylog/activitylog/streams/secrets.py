"""A stream's secret (signing secret, HEC token, API key) in Secrets Manager under the service key, named
``activitylog/streams/{org}/{stream_id}``: never in the table, the logs or a SYSTEM_EVENT.

The delivery function reads it once per container and again after ``max_age`` seconds (a changed secret
is used within that); the settings function reads it fresh.
"""

from __future__ import annotations

import time
from typing import Any, Optional

PREFIX = "activitylog/streams"


def secret_name(org: str, stream_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{org}/{stream_id}"


class StreamSecrets:
    """``prefix``: whose secrets (an alert's signing secret is kept the same way, under ``activitylog/alerts``)."""

    def __init__(
        self, client: Any = None, kms_key: Optional[str] = None, max_age: float = 60.0, prefix: str = PREFIX
    ) -> None:
        self._client, self.kms_key, self.max_age, self.prefix = client, kms_key, max_age, prefix
        self._cache: dict[str, tuple[float, str]] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    def put(self, org: str, stream_id: str, secret: str) -> None:
        name = secret_name(org, stream_id, self.prefix)
        try:
            self.client.put_secret_value(SecretId=name, SecretString=secret)
        except self.client.exceptions.ResourceNotFoundException:
            created = {"Name": name, "SecretString": secret, "Description": "an activity log stream's secret"}
            if self.kms_key:
                created["KmsKeyId"] = self.kms_key
            self.client.create_secret(**created)
        self._cache[name] = (time.monotonic(), secret)

    def get(self, org: str, stream_id: str, fresh: bool = False) -> str:
        name = secret_name(org, stream_id, self.prefix)
        cached = self._cache.get(name)
        if cached and not fresh and time.monotonic() - cached[0] < self.max_age:
            return cached[1]
        value = self.client.get_secret_value(SecretId=name)["SecretString"]
        self._cache[name] = (time.monotonic(), value)
        return value

    def delete(self, org: str, stream_id: str) -> None:
        name = secret_name(org, stream_id, self.prefix)
        self._cache.pop(name, None)
        try:
            self.client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except self.client.exceptions.ResourceNotFoundException:
            pass
