"""One way to wire a function: settings parsed once, shared objects built once, one entrypoint.

Every ``functions/*/app.py`` is a few lines: its ``lambda_handler`` is ``entrypoint(source, handle)``,
and ``handle`` takes what it needs from ``container()``. The container parses ``Settings`` from the
environment once per execution environment and builds each shared object (the service, the
export service, the webhook receiver and ingest, the archiver, ...) the first time a function asks
for it; ``reset()`` forgets them (tests point the environment elsewhere, as a new container would).

``entrypoint`` adds what every function has: Powertools' Logger with the invocation's context
and the correlation id of its event source, its Metrics flushed at the end, the Tracer where
tracing is on, and what the source puts around the handler (the HTTP API, ``activitylog.api.source``,
answers a domain error raised before routing as HTTP).

>>> lambda_handler = entrypoint(SQS, lambda event, context: container().ingest.handle(event, context))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Optional

from aws_lambda_powertools.logging import correlation_paths

from activitylog.config import Settings
from activitylog.observability import logger, metrics

if TYPE_CHECKING:
    from activitylog.alerts.settings import AlertSettings
    from activitylog.alerts.windows import AlertQueue, AlertWindows, Notifier
    from activitylog.archive.digests import Digester
    from activitylog.archive.writer import Archiver
    from activitylog.exports.service import ExportService
    from activitylog.jobs.bulk import BulkRetries
    from activitylog.jobs.client import Publisher
    from activitylog.jobs.ingest import ActivityIngest
    from activitylog.retention.changes import RetentionChanges
    from activitylog.retention.restamp import Restamper
    from activitylog.service import ActivityService
    from activitylog.streams.delivery import Delivery, Fanout
    from activitylog.streams.doorbell import Doorbell
    from activitylog.streams.secrets import StreamSecrets
    from activitylog.streams.settings import StreamSettings
    from activitylog.subjects import SubjectKeys
    from activitylog.warm.tier import WarmTier
    from activitylog.webhooks.ingest import Ingest
    from activitylog.webhooks.receiver import Receiver
    from activitylog.webhooks.recovery import Recovery


Handler = Callable[[Any, Any], Any]  # handle(event, context)


@dataclass(frozen=True)
class Source:
    """What invokes a function, and where its event carries the id that correlates its logs (JMESPath)."""

    name: str
    correlation_id_path: str
    # What the source's caller needs around every handler (the HTTP API's: refusals answered as HTTP).
    around: Optional[Callable[[Handler], Handler]] = field(default=None, compare=False)


# The API's functions use activitylog.api.source.HTTP_API (the request's id), which the API layer defines.
SQS = Source("SQS", "Records[0].messageId")  # a batch's first message
DYNAMODB_STREAM = Source("DynamoDB stream", "Records[0].eventID")  # a batch's first change
EVENTBRIDGE = Source("EventBridge", correlation_paths.EVENT_BRIDGE)  # the event's id
SCHEDULE = Source("schedule", correlation_paths.EVENT_BRIDGE)  # a scheduled event's id (none for an operator's run)
# the export, or the bulk retry, every step of its machine carries
STEP_FUNCTIONS = Source("Step Functions", "export.export_id || bulk.bulk_id")


class Container:
    """The shared objects of one execution environment, each built from the settings when first asked for."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def service(self) -> "ActivityService":
        from activitylog.details import DetailStore
        from activitylog.service import ActivityService
        from activitylog.store import EntryStore, bind

        bind(self.settings.table_name, region=self.settings.region, keys_table=self.settings.idempotency_table)
        store = EntryStore(DetailStore(self.settings.detail_bucket), subjects=self.subjects)
        return ActivityService(self.settings, store, warm=self.warm)

    @cached_property
    def subjects(self) -> Optional["SubjectKeys"]:
        """The data subjects' keys, where the template names their table and the service key; None: stored as sent."""
        if not (self.settings.subject_keys_table and self.settings.service_key_id):
            return None
        from activitylog.store.subjectkeys import SubjectKeyTable
        from activitylog.subjects import SubjectKeys

        table = SubjectKeyTable(self.settings.subject_keys_table, region=self.settings.region)
        return SubjectKeys(table, self.settings.service_key_id, region=self.settings.region)

    @cached_property
    def warm(self) -> Optional["WarmTier"]:
        """The warm tier, where the template sets a warm bucket and the table's days; None: the table holds all."""
        if not (self.settings.warm_bucket and self.settings.hot_table_days):
            return None
        from activitylog.archive.store import S3Objects
        from activitylog.warm.tier import WarmTier

        return WarmTier(S3Objects(self.settings.warm_bucket))

    @cached_property
    def exports(self) -> "ExportService":
        from activitylog.exports.files import ExportFiles
        from activitylog.exports.service import ExportRuns, ExportService

        config = self.settings.exports
        return ExportService(self.service, config, ExportFiles(config.bucket), ExportRuns(config.state_machine))

    @cached_property
    def bulk_retries(self) -> "BulkRetries":
        from activitylog.jobs.bulk import IDEMPOTENCY_WINDOW, BulkRetries, BulkRetryRuns
        from activitylog.store.bulk import BulkRetryProgress

        service = self.service  # binds the models, the progress's table among them
        runs = BulkRetryRuns(self.settings.bulk_retry_state_machine)
        return BulkRetries(
            service, BulkRetryProgress(IDEMPOTENCY_WINDOW), runs, lambda: self.publisher, lambda: self.idempotency
        )

    @cached_property
    def idempotency(self) -> Any:
        """Powertools' idempotency records (``IDEMPOTENCY_TABLE``), for ``activitylog.idempotency.run_once``."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        from activitylog.config import client_config

        if not self.settings.idempotency_table:
            raise RuntimeError("IDEMPOTENCY_TABLE is not set")
        return DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table, boto_config=client_config())

    @cached_property
    def publisher(self) -> "Publisher":
        """The platform bus's publisher: what a warm function buffered goes out with its next invocation."""
        from activitylog.jobs.client import Publisher

        return Publisher(self.settings.activity_bus_name)

    @cached_property
    def receiver(self) -> "Receiver":
        from activitylog.webhooks.queue import WebhookQueue
        from activitylog.webhooks.receiver import Receiver
        from activitylog.webhooks.secrets import SigningSecrets

        return Receiver(
            self.service,
            SigningSecrets(_required(self.settings.webhook_secrets_path, "WEBHOOK_SECRETS_PATH")),
            WebhookQueue(_required(self.settings.webhook_queue_url, "WEBHOOK_QUEUE_URL"), self.service.detail_store),
        )

    @cached_property
    def recovery(self) -> "Recovery":
        """Missed webhooks from the providers' own APIs, with the orgs' keys for them (PROVIDER_KEYS_PATH)."""
        from activitylog.webhooks.recovery import Recovery
        from activitylog.webhooks.secrets import ProviderKeys

        keys = ProviderKeys(_required(self.settings.provider_keys_path, "PROVIDER_KEYS_PATH"))
        return Recovery(self.service, keys, dict(self.settings.provider_api_bases))

    @cached_property
    def ingest(self) -> "Ingest":
        from activitylog.webhooks.ingest import Ingest
        from activitylog.webhooks.queue import WebhookQueue

        details = self.service.detail_store
        return Ingest(
            self.service,
            details,
            WebhookQueue(_required(self.settings.webhook_queue_url, "WEBHOOK_QUEUE_URL"), details),
            self.settings.ingest_retry_seconds,
        )

    @cached_property
    def activity_ingest(self) -> "ActivityIngest":
        from activitylog.jobs.ingest import ActivityIngest

        return ActivityIngest(
            self.service,
            _required(self.settings.activity_queue_url, "ACTIVITY_QUEUE_URL"),
            self.settings.ingest_retry_seconds,
        )

    @cached_property
    def archiver(self) -> "Archiver":
        from activitylog.archive.writer import Archiver

        service = self.service
        return Archiver(service, self.archive, lambda org: service.retention(org).archive_tag(), service.store)

    @cached_property
    def archive(self) -> Any:
        """The archive bucket (``activitylog.archive.store.ArchiveStore``)."""
        from activitylog.archive.store import ArchiveStore

        return ArchiveStore(_required(self.settings.archive_bucket, "ARCHIVE_BUCKET"))

    @cached_property
    def warm_bucket(self) -> Any:
        """The warm bucket as objects (``activitylog.warm.compact`` writes it; ``warm`` above reads it)."""
        from activitylog.archive.store import S3Objects

        return S3Objects(_required(self.settings.warm_bucket, "WARM_BUCKET"))

    @cached_property
    def digest_archive(self) -> Any:
        """The digest bucket read as an archive (the support function's proofs)."""
        from activitylog.archive.store import ArchiveStore

        return ArchiveStore(_required(self.settings.digest_bucket, "DIGEST_BUCKET"))

    @cached_property
    def signer(self) -> Any:
        """The digest signing key (KMS, or the local stack's key files)."""
        from activitylog.archive.signing import signer_for

        return signer_for(
            _required(self.settings.digest_signing_key, "DIGEST_SIGNING_KEY"), self.settings.local_kms_dir
        )

    @property
    def archive_or_none(self) -> Any:
        return self.archive if self.settings.archive_bucket else None

    @property
    def digest_archive_or_none(self) -> Any:
        return self.digest_archive if self.settings.digest_bucket else None

    @cached_property
    def public_keys(self) -> list[bytes]:
        """The digest signing key's public half (KMS GetPublicKey), once per environment; none where no key is set."""
        return [self.signer.public_key()] if self.settings.digest_signing_key else []

    @cached_property
    def digester(self) -> "Digester":
        from activitylog.archive.digests import Digester
        from activitylog.archive.store import S3Objects

        return Digester(
            S3Objects(_required(self.settings.archive_bucket, "ARCHIVE_BUCKET")),
            S3Objects(_required(self.settings.digest_bucket, "DIGEST_BUCKET")),
            self.signer,
        )

    @cached_property
    def restamper(self) -> "Restamper":
        from activitylog.retention.restamp import Restamper

        return Restamper(self.service, self.archive if self.settings.archive_bucket else None)

    @cached_property
    def stream_secrets(self) -> "StreamSecrets":
        from activitylog.streams.secrets import StreamSecrets

        return StreamSecrets(kms_key=self.settings.stream_secrets_key)

    @cached_property
    def doorbell(self) -> "Doorbell":
        from activitylog.streams.doorbell import Doorbell

        return Doorbell(self.settings.stream_queue_url)

    @cached_property
    def stream_settings(self) -> "StreamSettings":
        from activitylog.streams.settings import StreamSettings

        return StreamSettings(self.service, self.stream_secrets, self.doorbell, self.settings.streams_allow_loopback)

    @cached_property
    def fanout(self) -> "Fanout":
        from activitylog.streams.delivery import Fanout

        return Fanout(self.service, self.doorbell, retention_changes=self.retention_changes, alerts=self.alert_windows)

    @cached_property
    def alert_queue(self) -> "AlertQueue":
        from activitylog.alerts.windows import AlertQueue

        return AlertQueue(self.settings.alert_queue_url)

    @cached_property
    def alert_secrets(self) -> "StreamSecrets":
        from activitylog.streams.secrets import StreamSecrets

        return StreamSecrets(kms_key=self.settings.stream_secrets_key, prefix="activitylog/alerts")

    @cached_property
    def alert_windows(self) -> Optional["AlertWindows"]:
        """The fan-out's alerts, where the template gives it their queue (None: no alerts here)."""
        if not self.settings.alert_queue_url:
            return None
        from activitylog.alerts.windows import AlertWindows

        return AlertWindows(self.service, self.alert_queue)

    @cached_property
    def alert_settings(self) -> "AlertSettings":
        from activitylog.alerts.settings import AlertSettings

        return AlertSettings(self.service, self.alert_secrets, self.settings.streams_allow_loopback)

    @cached_property
    def notifier(self) -> "Notifier":
        from activitylog.alerts.windows import Notifier
        from activitylog.mail import Mailer

        return Notifier(
            self.service,
            self.alert_secrets,
            self.alert_queue,
            Mailer(self.settings.stream_mail_from),
            self.settings.alert_page_url,
            allow_loopback=self.settings.streams_allow_loopback,
        )

    @cached_property
    def retention_changes(self) -> "RetentionChanges":
        from activitylog.retention.changes import RetentionChanges

        return RetentionChanges(self.settings.retention_queue_url)

    @cached_property
    def delivery(self) -> "Delivery":
        from activitylog.mail import Mailer
        from activitylog.streams.delivery import Delivery

        return Delivery(
            self.service,
            self.stream_secrets,
            self.doorbell,
            Mailer(self.settings.stream_mail_from),
            allow_loopback=self.settings.streams_allow_loopback,
        )

    @cached_property
    def tracer(self) -> Optional[Any]:
        """Powertools' Tracer where tracing is on; None elsewhere (its X-Ray SDK costs ~100-170 ms of cold start)."""
        if not self.settings.tracing:
            return None
        from aws_lambda_powertools import Tracer

        return Tracer(service="activity-log")


def _required(value: Optional[str], variable: str) -> str:
    if not value:
        raise RuntimeError(f"{variable} is not set: template.yaml sets it for the functions that need it")
    return value


_container: Optional[Container] = None


def container() -> Container:
    """This execution environment's container, built (and the environment parsed) on first use."""
    global _container
    if _container is None:
        _container = Container(Settings.from_environ())
    return _container


def reset() -> None:
    """Forget the container: the next ``container()`` parses the environment again (tests)."""
    global _container
    _container = None


def entrypoint(source: Source, handle: Callable[[Any, Any], Any]) -> Callable[[dict, Any], Any]:
    """A function's ``lambda_handler``: ``handle(event, context)`` with logging (the invocation's context and
    ``source``'s correlation id), tracing where it is on, metrics flushed, and what ``source`` puts around it.

    >>> lambda_handler = entrypoint(SCHEDULE, lambda event, context: {})  # functions/sweeper/app.py, with its sweep
    """
    measured = metrics.log_metrics(source.around(handle) if source.around else handle)

    @logger.inject_lambda_context(correlation_id_path=source.correlation_id_path, clear_state=True)
    def lambda_handler(event: dict, context: Any) -> Any:
        tracer = container().tracer
        run = measured if tracer is None else tracer.capture_lambda_handler(measured)
        return run(event, context)

    lambda_handler.source = source  # type: ignore[attr-defined]  # which entrypoint made it (tests read it)
    return lambda_handler
