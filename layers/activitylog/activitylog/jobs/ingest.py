"""An activity event from the bus (an SQS message's body) becomes an entry, or moves its job run's entry along.

The ingest function (``activitylog.webhooks.ingest``) reads them from the queue it shares with
webhook deliveries (template.yaml's ActivityEventsRule targets it) and calls ``record_event``.

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

>>> record_event(service, ActivityEvent.parse(message))
'created'
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

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
        event=new.event, metadata=new.metadata, error=new.error, sequence=event.sequence,
        finished_at=new.finished_at if new.status.terminal else None,
    )
    try:
        service.amend(event.org, event.entry_id, update, event.reported_at)
    except Conflict as refused:
        logger.warning("a job report arrived after its entry finished: dropped",
                       extra={"entry_id": event.entry_id, "sequence": event.sequence, "reason": refused.message})
        metrics.add_metric(name="LateJobReports", unit=MetricUnit.Count, value=1)
        return "late"
    return "updated"

