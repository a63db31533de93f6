"""Settings from the environment, parsed once per execution environment (template.yaml sets them).

``Settings`` is the one model of the environment: one field per variable, and nothing else in
the layer reads ``os.environ``. ``activitylog.wiring`` parses it once per container and builds
the shared objects from it; a service is given a ``Settings`` and builds what it needs from it.

>>> config = Settings(table_name="activity-log", detail_bucket=None, cursor_secret="dev")
>>> config.org("org_1").retention_days
730
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterator, Mapping, Optional, cast

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


def _env(name: str, source: str = "template", parse: Callable[[str], Any] = str) -> dict:
    """A field's environment variable: its name, who sets it, how its text becomes the value.

    ``source``: "template" (template.yaml sets it for the functions that need it), "lambda"
    (Lambda's runtime or Powertools' own variables), "local" (the local stack and tests only:
    plain keys where AWS has secrets), "default" (a tunable the template leaves at its default).
    """
    return {"env": name, "source": source, "parse": parse}


def _optional(text: str) -> Optional[str]:
    return text or None


def _true(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ExportSettings:
    """CSV exports (``activitylog.exports``): where files go, which machine runs large ones, the limits.

    A small export is answered by the API function itself, and API Gateway's HTTP API with a
    Python function cannot stream: the whole answer is buffered, and Lambda refuses a
    buffered answer over 6 MB. So "small" is bounded by rows *and* by the bytes of the
    answer; past either, the export runs in the background and ends in an email.
    """

    bucket: Optional[str] = field(default=None, metadata=_env("EXPORT_BUCKET", parse=_optional))
    # the ARN of the machine that runs large exports
    state_machine: Optional[str] = field(default=None, metadata=_env("EXPORT_STATE_MACHINE", parse=_optional))
    # at most this many rows are answered at once
    inline_rows: int = field(default=10_000, metadata=_env("EXPORT_INLINE_ROWS", parse=int))
    # of the answer as Lambda encodes it (its limit: 6 MB)
    inline_bytes: int = field(default=5 * 1024 * 1024, metadata=_env("EXPORT_INLINE_BYTES", "default", int))
    # reading longer than this, a small export goes to the background (the API answers within 29 s)
    inline_seconds: int = field(default=20, metadata=_env("EXPORT_INLINE_SECONDS", "default", int))
    # S3 multipart parts (S3 takes 5 MiB at least, but the last)
    part_bytes: int = field(default=8 * 1024 * 1024, metadata=_env("EXPORT_PART_BYTES", parse=int))
    # parts one worker invocation writes before it hands back
    parts_per_step: int = field(default=64, metadata=_env("EXPORT_PARTS_PER_STEP", parse=int))
    link_secret: Optional[str] = field(
        default=None, metadata=_env("EXPORT_LINK_SECRET", "local", _optional)
    )  # plain key
    link_secret_name: Optional[str] = field(
        default=None, metadata=_env("EXPORT_LINK_SECRET_NAME", parse=_optional)
    )  # Secrets Manager
    # the API's URL, for emailed links
    link_base_url: Optional[str] = field(
        default=None, metadata=_env("EXPORT_LINK_BASE_URL", parse=lambda text: text.rstrip("/") or None)
    )
    link_days: int = field(
        default=7, metadata=_env("EXPORT_LINK_DAYS", "default", int)
    )  # how long an emailed link works

    def link_key(self) -> Key:
        return make_key(self.link_secret, self.link_secret_name, "EXPORT_LINK_SECRET", "sign export download links")


@dataclass(frozen=True)
class Settings:
    """Every setting a function reads, one field per environment variable (``fields_by_variable``).

    ``Settings.from_environ()`` parses them once per execution environment (``activitylog.wiring``);
    an unset or empty variable leaves the field's default.
    """

    table_name: str = field(default="activity-log", metadata=_env("TABLE_NAME"))
    # large entry details (template.yaml's DetailBucket)
    detail_bucket: Optional[str] = field(default=None, metadata=_env("DETAIL_BUCKET", parse=_optional))
    idempotency_table: Optional[str] = field(default=None, metadata=_env("IDEMPOTENCY_TABLE", parse=_optional))
    default_shards: int = field(default=2, metadata=_env("DEFAULT_SHARDS", parse=int))
    retention_days: int = field(default=730, metadata=_env("RETENTION_DAYS", parse=int))
    org_overrides: dict = field(default_factory=dict, metadata=_env("ORG_SETTINGS", parse=json.loads))
    cursor_secret: Optional[str] = field(default=None, metadata=_env("CURSOR_SECRET", "local", _optional))  # plain key
    cursor_secret_name: Optional[str] = field(
        default=None, metadata=_env("CURSOR_SECRET_NAME", parse=_optional)
    )  # Secrets Manager
    # an org's archive retention until it sets its own
    archive_days: int = field(default=DEFAULT_ARCHIVE_DAYS, metadata=_env("ARCHIVE_RETENTION_DAYS", parse=int))
    # every version of every entry (activitylog.archive)
    archive_bucket: Optional[str] = field(default=None, metadata=_env("ARCHIVE_BUCKET", parse=_optional))
    # the warm tier: Parquet files compacted from the archive (activitylog.warm), rebuilt from it at will
    warm_bucket: Optional[str] = field(default=None, metadata=_env("WARM_BUCKET", parse=_optional))
    # the operator's storage decision: how many days the table holds an entry before it is read from the warm tier
    hot_table_days: int = field(default=30, metadata=_env("HOT_TABLE_DAYS", parse=int))
    digest_bucket: Optional[str] = field(
        default=None, metadata=_env("DIGEST_BUCKET", parse=_optional)
    )  # the signed digests (Object Lock)
    # the KMS key (or local key) that signs them
    digest_signing_key: Optional[str] = field(default=None, metadata=_env("DIGEST_SIGNING_KEY", parse=_optional))
    # how long a container trusts what it read of an org's retention policy
    policy_seconds: float = field(default=30.0, metadata=_env("RETENTION_CACHE_SECONDS", parse=float))
    webhook_queue_url: Optional[str] = field(default=None, metadata=_env("WEBHOOK_QUEUE_URL", parse=_optional))
    # providers kept outside activitylog.webhooks.providers: comma-separated module paths
    webhook_provider_modules: tuple[str, ...] = field(
        default=(),
        metadata=_env(
            "WEBHOOK_PROVIDER_MODULES",
            parse=lambda text: tuple(filter(None, (path.strip() for path in text.split(",")))),
        ),
    )
    webhook_secrets_path: Optional[str] = field(default=None, metadata=_env("WEBHOOK_SECRETS_PATH", parse=_optional))
    # the orgs' keys for the providers' own APIs (missed webhooks): SecureStrings {path}/{org}/{provider}
    provider_keys_path: Optional[str] = field(default=None, metadata=_env("PROVIDER_KEYS_PATH", parse=_optional))
    # provider -> its API's address, JSON (template parameter ProviderApiBases): tests point one at a fake; empty in AWS
    provider_api_bases: dict = field(
        default_factory=dict,
        metadata=_env("PROVIDER_API_BASES", parse=lambda text: json.loads(text) if text.strip() else {}),
    )
    activity_queue_url: Optional[str] = field(default=None, metadata=_env("ACTIVITY_QUEUE_URL", parse=_optional))
    # a failed webhook message or activity event comes back after this, doubled per receive
    ingest_retry_seconds: int = field(default=10, metadata=_env("INGEST_RETRY_SECONDS", parse=int))
    # the platform bus the activity client publishes to (activitylog.jobs.events.BUS_VARIABLE)
    activity_bus_name: Optional[str] = field(default=None, metadata=_env("ACTIVITY_BUS_NAME", parse=_optional))
    # Streams (activitylog.streams): the queue of their doorbells (FIFO, a message group per stream), who mails
    # an admin when a stream pauses, and whether http://127.0.0.1 receivers are admitted (the local stack's flag only)
    stream_queue_url: Optional[str] = field(default=None, metadata=_env("STREAM_QUEUE_URL", parse=_optional))
    stream_mail_from: Optional[str] = field(default=None, metadata=_env("STREAM_MAIL_FROM", parse=_optional))
    streams_allow_loopback: bool = field(default=False, metadata=_env("STREAMS_ALLOW_LOOPBACK", "local", _true))
    # the orgs' policy changes, handed by the streams' fan-out to the re-stamp (FIFO, a message group per org)
    retention_queue_url: Optional[str] = field(default=None, metadata=_env("RETENTION_QUEUE_URL", parse=_optional))
    # the data subjects' keys (activitylog.subjects), wrapped under the service key: both set, personal fields are sealed
    subject_keys_table: Optional[str] = field(default=None, metadata=_env("SUBJECT_KEYS_TABLE", parse=_optional))
    service_key_id: Optional[str] = field(default=None, metadata=_env("SERVICE_KEY_ID", parse=_optional))
    # the service key the streams' secrets are encrypted under (Secrets Manager)
    stream_secrets_key: Optional[str] = field(default=None, metadata=_env("STREAM_SECRETS_KEY", parse=_optional))
    # the service key (template.yaml's ServiceKey) the orgs' fingerprint keys are wrapped under (activitylog.masking)
    service_key: Optional[str] = field(default=None, metadata=_env("SERVICE_KEY_ID", parse=_optional))
    # Alerts (activitylog.alerts): the queue of their windows' delayed messages, and the page their links open
    alert_queue_url: Optional[str] = field(default=None, metadata=_env("ALERT_QUEUE_URL", parse=_optional))
    alert_page_url: Optional[str] = field(default=None, metadata=_env("ALERT_PAGE_URL", parse=_optional))
    exports: ExportSettings = field(default_factory=ExportSettings)
    # the ARN of the machine that runs bulk retries (activitylog.jobs.bulk)
    bulk_retry_state_machine: Optional[str] = field(
        default=None, metadata=_env("BULK_RETRY_STATE_MACHINE", parse=_optional)
    )
    # Lambda's own: the function's name (the activity client's producer), the region, whether tracing is on
    function_name: Optional[str] = field(default=None, metadata=_env("AWS_LAMBDA_FUNCTION_NAME", "lambda", _optional))
    region: Optional[str] = field(default=None, metadata=_env("AWS_REGION", "lambda", _optional))
    task_root: Optional[str] = field(default=None, metadata=_env("LAMBDA_TASK_ROOT", "lambda", _optional))
    trace_disabled: bool = field(default=False, metadata=_env("POWERTOOLS_TRACE_DISABLED", "lambda", _true))
    # the local stack's signing keys as files (activitylog.archive.signing), where AWS has KMS
    local_kms_dir: Optional[str] = field(default=None, metadata=_env("ACTIVITYLOG_LOCAL_KMS_DIR", "local", _optional))

    @classmethod
    def from_environ(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """The settings from ``environ`` (the process's environment by default): the one place it is read.

        >>> Settings.from_environ({"TABLE_NAME": "t", "EXPORT_INLINE_ROWS": "5"}).exports.inline_rows
        5
        """
        environ = os.environ if environ is None else environ
        return _parsed(cls, environ)

    @property
    def tracing(self) -> bool:
        """Whether X-Ray tracing is on: in Lambda (``Tracing: Active``), unless Powertools' switch turns it off."""
        return bool(self.task_root) and not self.trace_disabled

    def org(self, org_id: str) -> OrgSettings:
        """An organization's write shards and default hot retention; big orgs get more shards.

        The retention here is the deployment's default: an org's own policy (``PUT
        /settings/retention``, ``ActivityService.retention``) overrides it."""
        override = self.org_overrides.get(org_id, {})
        return OrgSettings(
            shards=int(override.get("shards", self.default_shards)),
            retention_days=int(override.get("retention_days", self.retention_days)),
        )


def _parsed(model: type, environ: Mapping[str, str]) -> Any:
    values: dict[str, Any] = {}
    for spec in fields(model):
        if "env" not in spec.metadata:  # a section: its own fields from the same environment
            values[spec.name] = _parsed(cast(type, spec.default_factory), environ)  # the section's class
        elif environ.get(spec.metadata["env"]):
            text = environ[spec.metadata["env"]]
            try:
                values[spec.name] = spec.metadata["parse"](text)
            except ValueError as error:
                raise ValueError(f"{spec.metadata['env']}={text!r}: {error}") from None
    return model(**values)


def fields_by_variable(model: type = Settings) -> dict[str, Any]:
    """Each environment variable the settings read, with its field (sections included)."""
    found: dict[str, Any] = {}
    for spec in fields(model):
        if "env" in spec.metadata:
            found[spec.metadata["env"]] = spec
        else:
            found.update(fields_by_variable(spec.default_factory))  # type: ignore[arg-type]
    return found


CURSOR_KEY_MAX_AGE = 300  # seconds a container trusts its cached key before reading the secret again


def make_cursor_key(config: Settings) -> Key:
    """The key that signs page cursors: ``CURSOR_SECRET`` locally, the rotating secret in AWS.

    The service signs with it: ``cursor.encode(make_cursor_key(config), org, digest, last_id, window)``.
    """
    return make_key(config.cursor_secret, config.cursor_secret_name, "CURSOR_SECRET", "sign page cursors")


def make_key(plain: Optional[str], secret_name: Optional[str], variable: str, purpose: str) -> Key:
    """A signing key from a plain value (local stack, tests) or a Secrets Manager secret (AWS)."""
    if plain:
        return StaticKey(plain.encode())
    if secret_name:
        return SecretsManagerKey(secret_name)
    raise RuntimeError(f"set {variable} or {variable}_NAME to {purpose}")


class SecretsManagerKey:
    """A Secrets Manager secret as the cursor key, safe across rotations and containers.

    Signs with AWSCURRENT and verifies with AWSCURRENT, then AWSPREVIOUS, so a cursor
    signed just before a rotation still pages. Each value is cached for ``max_age``
    seconds (Powertools parameters). A cursor that no cached value verifies makes it
    read both stages again once: another container may have seen a rotation first.

    ``SecretsManagerKey(secret_arn)`` is a ``Key`` like any other: ``cursor.decode(key, token, org, digest)``.
    """

    _STAGES = ("AWSCURRENT", "AWSPREVIOUS")

    def __init__(self, name: str, max_age: int = CURSOR_KEY_MAX_AGE) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self.name, self.max_age = name, max_age
        # One provider per stage: Powertools caches by secret name, whatever the VersionStage.
        self._providers = {stage: SecretsProvider() for stage in self._STAGES}

    def signing_key(self) -> bytes:
        return cast(bytes, self._read("AWSCURRENT"))  # not missing_ok: bytes, or it raised

    def verifying_keys(self) -> Iterator[bytes]:
        for refresh in (False, True):
            yield cast(bytes, self._read("AWSCURRENT", refresh))
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


# The DynamoDB clients' limits, so a request fails over to a 503 before Lambda stops the function
# (API functions: Timeout 15 s). A call that gets no answer costs at most ATTEMPTS × (CONNECT_TIMEOUT
# + READ_TIMEOUT) plus botocore's backoff (< 1 s): 7 s. A failed request makes at most two such calls
# in a row (its own, then Powertools removing its in-progress record): 14 s. DynamoDB answers in
# milliseconds; a call waiting 2 s for its first byte is not coming back soon.
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
ATTEMPTS = 2


def client_config():
    """The botocore Config of the service's AWS clients on a request's path: DynamoDB's (pynamodb's models,
    Powertools' idempotency records, the subject keys) and KMS's for the orgs' masking keys."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
    )
