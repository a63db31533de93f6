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

from activitylog.signing import Key, StaticKey


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
    return make_key(config.cursor_secret, config.cursor_secret_name, "CURSOR_SECRET", "sign page cursors")


def make_key(plain: Optional[str], secret_name: Optional[str], variable: str, purpose: str) -> Key:
    """A signing key from a plain value (local stack, tests) or a Secrets Manager secret (AWS)."""
    if plain:
        return StaticKey(plain.encode())
    if secret_name:
        return SecretsManagerKey(secret_name)
    raise RuntimeError(f"set {variable} or {variable}_NAME to {purpose}")


@dataclass(frozen=True)
class ExportSettings:
    """CSV exports (``activitylog.exports``): where files go, which machine runs large ones, the limits.

    A small export is answered by the API function itself, and API Gateway's HTTP API with a
    Python function cannot stream: the whole answer is buffered, and Lambda refuses a
    buffered answer over 6 MB. So "small" is bounded by rows *and* by the bytes of the
    answer; past either, the export runs in the background and ends in an email.
    """

    bucket: Optional[str] = None  # EXPORT_BUCKET
    state_machine: Optional[str] = None  # EXPORT_STATE_MACHINE: the ARN of the machine that runs large exports
    inline_rows: int = 10_000  # EXPORT_INLINE_ROWS: at most this many rows are answered at once
    inline_bytes: int = 5 * 1024 * 1024  # EXPORT_INLINE_BYTES: of the answer as Lambda encodes it (its limit: 6 MB)
    inline_seconds: int = 20  # EXPORT_INLINE_SECONDS: reading longer than this, a small export goes to the background (the API answers within 29 s)
    part_bytes: int = 8 * 1024 * 1024  # EXPORT_PART_BYTES: S3 multipart parts (S3 takes 5 MiB at least, but the last)
    parts_per_step: int = 64  # EXPORT_PARTS_PER_STEP: parts one worker invocation writes before it hands back
    link_secret: Optional[str] = None  # EXPORT_LINK_SECRET: plain key (local stack, tests)
    link_secret_name: Optional[str] = None  # EXPORT_LINK_SECRET_NAME: Secrets Manager name (AWS)
    link_base_url: Optional[str] = None  # EXPORT_LINK_BASE_URL: the API's URL, for emailed links
    link_days: int = 7  # EXPORT_LINK_DAYS: how long an emailed link works

    def link_key(self) -> Key:
        return make_key(self.link_secret, self.link_secret_name, "EXPORT_LINK_SECRET", "sign export download links")


@lru_cache(maxsize=1)
def export_settings() -> ExportSettings:
    """The export settings from the environment, read once per process."""
    defaults = ExportSettings()

    def number(name: str, default: int) -> int:
        return int(os.environ.get(name) or default)

    return ExportSettings(
        bucket=os.environ.get("EXPORT_BUCKET") or None,
        state_machine=os.environ.get("EXPORT_STATE_MACHINE") or None,
        inline_rows=number("EXPORT_INLINE_ROWS", defaults.inline_rows),
        inline_bytes=number("EXPORT_INLINE_BYTES", defaults.inline_bytes),
        inline_seconds=number("EXPORT_INLINE_SECONDS", defaults.inline_seconds),
        part_bytes=number("EXPORT_PART_BYTES", defaults.part_bytes),
        parts_per_step=number("EXPORT_PARTS_PER_STEP", defaults.parts_per_step),
        link_secret=os.environ.get("EXPORT_LINK_SECRET") or None,
        link_secret_name=os.environ.get("EXPORT_LINK_SECRET_NAME") or None,
        link_base_url=(os.environ.get("EXPORT_LINK_BASE_URL") or "").rstrip("/") or None,
        link_days=number("EXPORT_LINK_DAYS", defaults.link_days),
    )


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
