"""The ingest function: webhook messages from SQS to WEBHOOK entries, exactly once, losing none.

The queue carries webhook deliveries only: the platform bus's activity events have a queue and
a consumer of their own (``activitylog.jobs.ingest``, functions/activity_events).

Powertools' ``BatchProcessor`` reads each record of the batch (its message, from S3 when it was
offloaded) and maps it to an entry; then the batch's entries are written together, per org
(``ActivityService.record_events``: each entry with a marker keyed by the provider's event id, so
a redelivered, replayed or concurrent duplicate is stored once). What fails is reported in
``batchItemFailures``: only those messages come back. Each comes back after a backoff that
doubles per receive (``INGEST_RETRY_SECONDS`` × 2^(receives-1), at most 15 minutes) instead of
the queue's whole visibility timeout (``activitylog.backoff``); after ``maxReceiveCount`` receives SQS moves it to the
dead-letter queue, whose depth and oldest message raise alarms, and ``activitylog redrive``
(or SQS's own redrive) puts it back once the cause is fixed.

The function runs ``container().ingest.handle(event, context)`` (``activitylog.wiring``) on each batch; it
answers the records that failed (``batchItemFailures``), which come back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from activitylog.backoff import retry_delays
from activitylog.details import DetailStore
from activitylog.observability import logger, metrics
from activitylog.service import ActivityService
from activitylog.webhooks.mapping import entry_document, redacted_request, source_event_id
from activitylog.webhooks.providers import PROVIDERS
from activitylog.webhooks.queue import OffloadedBodyMissing, WebhookQueue, body_of, identity_of, read_message


@dataclass
class Pending:
    """One record's entry, waiting for its batch to be written."""

    record: dict  # the raw SQS record
    org: str
    entry: Any  # inputs.NewEntry
    offloaded: Optional[str] = None


@dataclass
class Ingest:
    service: ActivityService
    detail_store: DetailStore
    queue: Optional[WebhookQueue] = None  # where failed messages are told when to come back
    retry_seconds: int = 10
    batch_writes: bool = True  # False: one write per entry (the benchmark's baseline)

    def handle(self, event: dict, context: Any) -> PartialItemFailureResponse:
        processor = _EntriesTogether(self)
        answer = process_partial_response(
            event=event, record_handler=self.prepare, processor=processor, context=context
        )
        failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        self._back_off([r for r in event.get("Records", []) if r["messageId"] in failed])
        return answer

    def prepare(self, record: SQSRecord) -> Optional[Pending]:
        """The record's entry (raises on a message that cannot be read: it is retried, then dead-lettered);
        None for an offloaded delivery received again once its event is recorded."""
        from activitylog.inputs import NewEntry

        try:
            message, offloaded = read_message(record.body, self.detail_store)
        except OffloadedBodyMissing as missing:
            # Its body is deleted once its entry is written: a message received again after that (its
            # deletion failed, the function stopped after the write, a redrive) is a recorded event.
            pointer = missing.message
            if pointer.get("event_id") and self.service.event_recorded(
                pointer["org"], pointer["provider"], source_event_id(pointer["event_id"])
            ):
                metrics.add_metric(name="WebhookDuplicates", unit=MetricUnit.Count, value=1)
                return None
            raise
        provider = PROVIDERS[message["provider"]]
        if "request" in message:  # redacted by the receiver
            request, identity = message["request"], identity_of(message)
        else:  # queued raw, before the receiver redacted (it may still wait in the queue or its DLQ)
            body = body_of(message)
            _, identity = provider.identity(body)
            request = redacted_request(message["headers"], body, message["url"])
        received = datetime.fromisoformat(message["received_at"])
        document = entry_document(provider, request["body"], identity, request, received)
        pending = Pending(record.raw_event, message["org"], NewEntry.model_validate(document), offloaded)
        if not self.batch_writes:
            self.write([pending])
        return pending

    def write(self, batch: list[Pending]) -> None:
        """Record the batch's entries, per org, each event once; then drop their offloaded bodies."""
        by_org: dict[str, list[Pending]] = defaultdict(list)
        for pending in batch:
            by_org[pending.org].append(pending)
        for org, items in by_org.items():
            results = self.service.record_events(org, [p.entry for p in items], recorded_by="webhooks")
            new = sum(1 for _, recorded in results if recorded)
            metrics.add_metric(name="WebhookEntriesWritten", unit=MetricUnit.Count, value=new)
            if len(results) - new:
                metrics.add_metric(name="WebhookDuplicates", unit=MetricUnit.Count, value=len(results) - new)
        self.detail_store.delete([p.offloaded for p in batch if p.offloaded])

    def _back_off(self, failed: list[dict]) -> None:
        """Failed messages come back after a doubling delay, not the queue's whole visibility timeout."""
        if not failed or self.queue is None:
            return
        try:
            self.queue.retry_later(retry_delays(failed, self.retry_seconds))
        except Exception:  # noqa: BLE001 - the queue's visibility timeout brings them back anyway
            logger.exception("could not set the retry delay of failed webhook messages")


class _EntriesTogether(BatchProcessor):
    """Powertools' SQS ``BatchProcessor`` whose record handler maps each message to an entry;
    the entries are written together afterwards, and a write that fails fails its records."""

    def __init__(self, ingest: Ingest) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.ingest = ingest

    def process(self) -> list[tuple]:
        results = super().process()
        if not self.ingest.batch_writes:
            return results
        pending = [result for status, result, _ in results if status == "success" and result is not None]
        by_org: dict[str, list[Pending]] = defaultdict(list)
        for item in pending:
            by_org[item.org].append(item)
        for org, items in by_org.items():
            try:
                self.ingest.write(items)
            except Exception as error:  # noqa: BLE001 - each record of a failed write is reported, and comes back
                logger.warning("writing %d webhook entries for %s failed: %s", len(items), org, error)
                metrics.add_metric(name="WebhookWritesFailed", unit=MetricUnit.Count, value=len(items))
                for item in items:
                    self.success_messages.remove(item.record)  # type: ignore[arg-type]  # Powertools keeps the raw records
                    self.failure_handler(SQSRecord(item.record), (type(error), error, error.__traceback__))
        return results
