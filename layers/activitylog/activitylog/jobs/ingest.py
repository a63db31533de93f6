"""The activity events' consumer: an event from the bus (an SQS message's body) becomes an entry,
or moves its job run's entry along.

template.yaml's ActivityEventsRule sends the platform bus's activity events (job start, progress
and completion, user actions, system events: ``events``) to their own queue; its consumer
(functions/activity_events) hands each record to ``record_event`` through Powertools'
``BatchProcessor``. What fails is reported in ``batchItemFailures`` and comes back after a
doubling delay (``activitylog.backoff``); after the queue's ``maxReceiveCount`` receives it rests
in the dead-letter queue, whose depth and age raise alarms, until ``activitylog redrive``.

Events of one run arrive in any order and some more than once (SQS standard queues), so
each carries the run's whole state, its entry id and a growing ``sequence``:

- the first to arrive creates the entry under that id (a write conditional on the id's
  absence: a redelivered start never makes a second entry);
- the others update it by the entry rules (``rules.apply_update``): an older report than
  one applied already changes nothing, so progress arriving after the completion is
  ignored; a final status lands once and never changes;
- a report arriving after the entry finished (after the sweeper called the run stalled)
  is dropped, and counted (``LateJobReports``): a finished entry does not change.

A message that is not a valid event raises: the batch reports it failed, it comes back,
and after the queue's ``maxReceiveCount`` it rests in the dead-letter queue.

``record_event(service, ActivityEvent.parse(message))`` answers ``created``, ``updated``, ``repeated`` or ``late``;
the function runs ``container().activity_ingest.handle(event, context)`` (``activitylog.wiring``) on each batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from activitylog.backoff import retry_delays, retry_later
from activitylog.errors import Conflict
from activitylog.jobs.events import ActivityEvent
from activitylog.observability import logger, metrics
from activitylog.service import ActivityService


def record_event(service: ActivityService, event: ActivityEvent) -> str:
    """Apply one event; answers ``created``, ``updated`` (or left as it was: an older report), ``repeated`` or ``late``."""
    from activitylog.inputs import EntryUpdate, NewEntry

    new = NewEntry.model_validate(event.entry)
    if service.record_once(event.org, new, event.producer, event.entry_id, event.sequence, event.reported_at):
        metrics.add_metric(name="EntriesWritten", unit=MetricUnit.Count, value=1)
        return "created"
    if event.sequence is None:
        return "repeated"  # an entry recorded whole, delivered again
    update = EntryUpdate(
        status=new.status if new.status.terminal else None,  # progress never names a status: it cannot undo a finish
        event=new.event,
        metadata=new.metadata,
        error=new.error,
        sequence=event.sequence,
        finished_at=new.finished_at if new.status.terminal else None,
        trace_id=new.trace_id,
        span_id=new.span_id,
    )
    try:
        service.amend(event.org, event.entry_id, update, event.reported_at)
    except Conflict as refused:
        logger.warning(
            "a job report arrived after its entry finished: dropped",
            extra={"entry_id": event.entry_id, "sequence": event.sequence, "reason": refused.message},
        )
        metrics.add_metric(name="LateJobReports", unit=MetricUnit.Count, value=1)
        return "late"
    return "updated"


@dataclass
class ActivityIngest:
    """The activity events queue's consumer: each record recorded as it is read, failures reported and retried later."""

    service: ActivityService
    queue_url: Optional[str] = None  # where failed messages are told when to come back
    retry_seconds: int = 10

    @cached_property
    def sqs(self):
        import boto3

        return boto3.client("sqs")

    def handle(self, event: dict, context: Any) -> PartialItemFailureResponse:
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        answer = process_partial_response(event=event, record_handler=self.record, processor=processor, context=context)
        failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        self._back_off([r for r in event.get("Records", []) if r["messageId"] in failed])
        return answer

    def record(self, record: SQSRecord) -> str:
        """Record one event (raises on one that can never be recorded: it is retried, then dead-lettered)."""
        return record_event(self.service, ActivityEvent.parse(json.loads(record.body)))

    def _back_off(self, failed: list[dict]) -> None:
        if not failed or self.queue_url is None:
            return
        try:
            retry_later(self.sqs, self.queue_url, retry_delays(failed, self.retry_seconds))
        except Exception:  # noqa: BLE001 - the queue's visibility timeout brings them back anyway
            logger.exception("could not set the retry delay of failed activity events")
