"""Settings from the environment, parsed once per process (template.yaml sets them).

Only the handlers read the environment (``settings()``, cached per process as a Lambda
container would); the service is given a ``Settings`` and builds what it needs from it.

>>> config = Settings(table_name="activity-log", detail_bucket=None, cursor_secret="dev")
>>> config.org("org_1").retention_days
730
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator, Optional

from activitylog.query.cursor import Key, StaticKey


# The hot retention periods an org may choose (how long entries stay in the table). Large entry
# details in S3 sit under a prefix per period, and template.yaml's DetailBucket has one lifecycle
# rule per prefix that expires them with the entries (a test keeps the two in step).
RETENTION_CLASSES = (90, 365, 730, 1095, 1825, 2555)
# The archive retention periods (how long the S3 archive keeps each version it wrote). Archive
# objects carry the org's class as a tag; ArchiveBucket has one lifecycle rule per tag value.
ARCHIVE_CLASSES = (365, 730, 1095, 1825, 2555, 3650)
DEFAULT_ARCHIVE_DAYS = 2555  # seven years


@dataclass(frozen=True)
class OrgSettings:
    shards: int
    retention_days: int

    def __post_init__(self) -> None:
        if self.retention_days not in RETENTION_CLASSES:
            raise ValueError(f"retention_days {self.retention_days} is not one of {RETENTION_CLASSES}")
        if not 1 <= self.shards <= 64:
            raise ValueError(f"shards {self.shards} must be between 1 and 64")


@dataclass(frozen=True)
class Settings:
    table_name: str
    detail_bucket: Optional[str]  # large entry details (DETAIL_BUCKET, template.yaml's DetailBucket)
    idempotency_table: Optional[str] = None
    default_shards: int = 2
    retention_days: int = 730
    org_overrides: dict = field(default_factory=dict)
    cursor_secret: Optional[str] = None  # plain key (local stack, tests)
    cursor_secret_name: Optional[str] = None  # Secrets Manager name (AWS)
    archive_days: int = DEFAULT_ARCHIVE_DAYS  # an org's archive retention until it sets its own
    archive_bucket: Optional[str] = None  # ARCHIVE_BUCKET: every version of every entry (activitylog.archive)
    digest_bucket: Optional[str] = None  # DIGEST_BUCKET: the signed hourly digests (Object Lock)
    digest_signing_key: Optional[str] = None  # DIGEST_SIGNING_KEY: the KMS key (or local key) that signs them
    policy_seconds: float = 30.0  # how long a container trusts what it read of an org's retention policy

    def org(self, org_id: str) -> OrgSettings:
        """An organization's write shards and default hot retention; big orgs get more shards.

        The retention here is the deployment's default: an org's own policy (``PUT
        /settings/retention``, ``ActivityService.retention``) overrides it."""
        override = self.org_overrides.get(org_id, {})
        return OrgSettings(
            shards=int(override.get("shards", self.default_shards)),
            retention_days=int(override.get("retention_days", self.retention_days)),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The environment's settings, read once per process (``ActivityService.from_environment``)."""
    return Settings(
        table_name=os.environ.get("TABLE_NAME", "activity-log"),
        detail_bucket=os.environ.get("DETAIL_BUCKET") or None,
        idempotency_table=os.environ.get("IDEMPOTENCY_TABLE") or None,
        default_shards=int(os.environ.get("DEFAULT_SHARDS", "2")),
        retention_days=int(os.environ.get("RETENTION_DAYS", "730")),
        org_overrides=json.loads(os.environ.get("ORG_SETTINGS") or "{}"),
        cursor_secret=os.environ.get("CURSOR_SECRET") or None,
        cursor_secret_name=os.environ.get("CURSOR_SECRET_NAME") or None,
        archive_days=int(os.environ.get("ARCHIVE_RETENTION_DAYS", str(DEFAULT_ARCHIVE_DAYS))),
        archive_bucket=os.environ.get("ARCHIVE_BUCKET") or None,
        digest_bucket=os.environ.get("DIGEST_BUCKET") or None,
        digest_signing_key=os.environ.get("DIGEST_SIGNING_KEY") or None,
        policy_seconds=float(os.environ.get("RETENTION_CACHE_SECONDS", "30")),
    )


CURSOR_KEY_MAX_AGE = 300  # seconds a container trusts its cached key before reading the secret again


def make_cursor_key(config: Settings) -> Key:
    """The key that signs page cursors: ``CURSOR_SECRET`` locally, the rotating secret in AWS.

    >>> cursor.encode(make_cursor_key(config), org, digest, last_id, window)
    """
    if config.cursor_secret:
        return StaticKey(config.cursor_secret.encode())
    if config.cursor_secret_name:
        return SecretsManagerKey(config.cursor_secret_name)
    raise RuntimeError("set CURSOR_SECRET or CURSOR_SECRET_NAME to sign page cursors")


class SecretsManagerKey:
    """A Secrets Manager secret as the cursor key, safe across rotations and containers.

    Signs with AWSCURRENT and verifies with AWSCURRENT, then AWSPREVIOUS, so a cursor
    signed just before a rotation still pages. Each value is cached for ``max_age``
    seconds (Powertools parameters). A cursor that no cached value verifies makes it
    read both stages again once: another container may have seen a rotation first.

    >>> key = SecretsManagerKey("arn:aws:secretsmanager:…:secret:CursorSecret-…")
    >>> cursor.decode(key, token, org, digest)
    """

    _STAGES = ("AWSCURRENT", "AWSPREVIOUS")

    def __init__(self, name: str, max_age: int = CURSOR_KEY_MAX_AGE) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self.name, self.max_age = name, max_age
        # One provider per stage: Powertools caches by secret name, whatever the VersionStage.
        self._providers = {stage: SecretsProvider() for stage in self._STAGES}

    def signing_key(self) -> bytes:
        return self._read("AWSCURRENT")

    def verifying_keys(self) -> Iterator[bytes]:
        for refresh in (False, True):
            yield self._read("AWSCURRENT", refresh)
            previous = self._read("AWSPREVIOUS", refresh, missing_ok=True)
            if previous is not None:
                yield previous

    def _read(self, stage: str, refresh: bool = False, missing_ok: bool = False) -> Optional[bytes]:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self._providers[stage].get(self.name, max_age=self.max_age, force_fetch=refresh, VersionStage=stage)
        except GetParameterError:
            if missing_ok:
                return None  # a secret never rotated has no AWSPREVIOUS
            raise
        return value if isinstance(value, bytes) else str(value).encode()
