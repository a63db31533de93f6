"""Streams' delivery: the table's stream fanned out to each matching stream, then each stream delivered in its lane.

- **Fan-out** (``Fanout``, the table's DynamoDB stream, whose second reader it is beside the archive): the orgs'
  policy changes go to the re-stamp's FIFO queue (``activitylog.retention.changes``); each new entry version is
  written as a *waiting* item of every ACTIVE or PAUSED stream of its org whose filter the list would answer it
  for (``query.filters.matches``), then one *doorbell* per stream with new work goes to ``StreamDeliveries``, an SQS
  FIFO queue whose message group is the stream: every destination is an ordered lane of its own, so a failing or
  slow one is held back without holding the others (Lambda scales by active message groups).
- **Delivery** (``Delivery``, the FIFO queue): a doorbell's stream gets its waiting entries in id order (pages of
  500), rendered in its format and sent; the delivered ones are removed and the state records the delivery.
  A failure keeps them waiting: the doorbell comes back after a backoff (10 s, 30 s, 1 min, 5 min, 15 min, 30 min,
  then hourly), holding the lane in order; after 24 hours of failures the stream is PAUSED, a SYSTEM_EVENT WARNING
  is recorded and its admins are emailed. A paused stream's doorbells are consumed without sending; ``resume``
  rings again. At least once: a receiver dedupes on each event's stable id (``formats.event_id``).
- **Alerts** ride in the fan-out too (``activitylog.alerts.windows``): each entry new to an org's alert goes into
  its window, whose first entry sends the delayed message that tells it.
- **Backfill**: a doorbell carrying ``backfill`` pages through the org's entries in the window with the stream's
  filter (the list's own query), writes them as waiting items and rings for the next page itself.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from activitylog import ids
from activitylog.entry import iso_time
from activitylog.mail import Mailer
from activitylog.query.filters import matches, parse_stream_filter
from activitylog.retention.changes import is_policy_change
from activitylog.store.streams import WAITING_PAGE
from activitylog.streams.doorbell import Doorbell
from activitylog.streams.settings import ACTIVE, PAUSED
from activitylog.views import detail_view

if TYPE_CHECKING:
    from activitylog.entry import Entry
    from activitylog.retention.changes import RetentionChanges
    from activitylog.service import ActivityService
    from activitylog.streams.secrets import StreamSecrets

WAITING_DAYS = 30  # a waiting entry not delivered in 30 days is gone (TTL): a stream paused that long starts afresh
SETTINGS_SECONDS = 30.0  # how long a fan-out container trusts what it read of an org's streams
BACKOFF_SECONDS = (10, 30, 60, 300, 900, 1800, 3600)  # then hourly
PAUSE_AFTER = timedelta(hours=24)
BACKFILL_PAGE = 200  # entries one backfill step reads (the list's page at most)
BACKFILL_STALE = timedelta(minutes=15)  # a backfill with no step for this long no longer holds its lane
SPARE_SECONDS = 30  # a delivery stops starting pages this long before the function's timeout (a send: 15 s at most)


def backoff_seconds(receives: int) -> int:
    """The wait before a failed doorbell's ``receives``-th retry."""
    return BACKOFF_SECONDS[min(max(receives, 1), len(BACKOFF_SECONDS)) - 1]


def entry_document(entry: "Entry") -> dict:
    """The entry as ``GET /activities/{id}`` answers it: what a stream's formats render."""
    return detail_view(entry)


class EntryWatchers(Protocol):
    """What else rides in the fan-out: the org's alerts (activitylog.alerts.windows.AlertWindows, which sits above the
    streams, whose sending it uses; so the fan-out names only what it calls)."""

    def alerts(self, org: str) -> list[dict]: ...

    def forget(self, org: str) -> None: ...

    def new_matches(self, org: str, entry: "Entry", before: Optional["Entry"]) -> list[str]: ...

    def note(self, org: str, alert_id: str, entry_ids: list[str]) -> None: ...


class Fanout:
    """Each entry version of a stream batch to the waiting items of the streams that want it, then their doorbells."""

    def __init__(
        self,
        service: "ActivityService",
        doorbell: Doorbell,
        clock: Callable[[], float] = time.monotonic,
        retention_changes: Optional["RetentionChanges"] = None,
        alerts: Optional[EntryWatchers] = None,
    ) -> None:
        self.service, self.doorbell, self.clock = service, doorbell, clock
        self.retention_changes, self.alerts = retention_changes, alerts
        self._streams: dict[str, tuple[float, list[dict]]] = {}

    def streams(self, org: str) -> list[dict]:
        """The org's ACTIVE and PAUSED streams, read at most every ``SETTINGS_SECONDS`` per container."""
        cached = self._streams.get(org)
        if cached is None or self.clock() - cached[0] >= SETTINGS_SECONDS:
            found = [s for s in self.service.store.streams(org) if s["status"] in (ACTIVE, PAUSED)]
            cached = (self.clock(), found)
            self._streams[org] = cached
        return cached[1]

    def handle(self, records: list[dict]) -> dict:
        """Records as Lambda hands them (``Records``); answers how many waiting items and doorbells it wrote.

        The orgs' policy changes go first to the re-stamp's queue (``activitylog.retention.changes``): a failed send
        fails the batch, which Lambda retries, so none is lost.
        """
        changes = [record for record in records if is_policy_change(record)]
        if changes:
            if self.retention_changes is None:
                raise RuntimeError("the fan-out has no RetentionChanges queue to hand policy changes to")
            self.retention_changes.forward(changes)
        wanted: dict[tuple[str, str], tuple[str, list[dict]]] = {}  # (org, stream) -> (status, documents)
        noted: dict[tuple[str, str], list[str]] = {}  # (org, alert) -> ids of the entries new to it
        last_sequence = ""
        for record in records:
            last_sequence = record.get("dynamodb", {}).get("SequenceNumber", last_sequence)
            image = record.get("dynamodb", {}).get("NewImage")
            found = self.service.store.entry_from_image(image) if image else None
            if found is None:
                continue
            org, entry = found
            changed = str((entry.entity or {}).get("id", "")) if entry.type.value == "SYSTEM_EVENT" else ""
            if changed.startswith("stream:"):
                self._streams.pop(org, None)  # a stream of this org changed: read its streams again now, not in 30 s
            if self.alerts is not None:
                if changed.startswith("alert:"):
                    self.alerts.forget(org)
                if self.alerts.alerts(org):
                    old = record["dynamodb"].get("OldImage")
                    before = self.service.store.entry_from_image(old) if old else None
                    for alert_id in self.alerts.new_matches(org, entry, before[1] if before else None):
                        noted.setdefault((org, alert_id), []).append(entry.id)
            streams = self.streams(org)
            if not streams:
                continue
            document = entry_document(entry)
            for stream in streams:
                if matches(parse_stream_filter(stream["filter"])[1], entry):
                    wanted.setdefault((org, stream["id"]), (stream["status"], []))[1].append(document)
        expires_at = int(time.time()) + WAITING_DAYS * 86400
        rung = 0
        for (org, stream_id), (status, documents) in wanted.items():
            self.service.store.add_waiting(org, stream_id, documents, expires_at)
            if status == ACTIVE:  # a paused stream's entries wait for its resume, which rings
                self.doorbell.ring(org, stream_id, f"fanout:{last_sequence}")
                rung += 1
        answer = {"waiting": sum(len(documents) for _, documents in wanted.values()), "doorbells": rung}
        for (org, alert_id), entry_ids in noted.items():
            assert self.alerts is not None
            self.alerts.note(org, alert_id, entry_ids)
        if noted:
            answer["alerts"] = len(noted)
        return answer


class Failed(Exception):
    """A delivery the destination did not accept: the doorbell comes back after its backoff."""


class Delivery:
    """One doorbell: its stream's waiting entries sent in order, or the lane held back on failure."""

    def __init__(
        self,
        service: "ActivityService",
        secrets: "StreamSecrets",
        doorbell: Doorbell,
        mailer: Mailer,
        allow_loopback: bool = False,
        resolve: Callable[..., Any] = socket.getaddrinfo,
        now: Optional[Callable[[], datetime]] = None,
        session: Any = None,
    ) -> None:
        self.service, self.secrets, self.doorbell, self.mailer = service, secrets, doorbell, mailer
        self.allow_loopback, self.resolve, self.session = allow_loopback, resolve, session
        self.now = now or service.clock

    def ring(self, message: dict, receives: int = 1, deadline: Optional[float] = None) -> dict:
        """Handle a doorbell's body; raises ``Failed`` (after recording it) when the lane must wait and retry.

        ``deadline`` (``time.monotonic()``): past it, no new page is sent; the lane's next doorbell carries on.
        """
        org, stream_id = message["org"], message["stream"]
        store = self.service.store
        stream = store.stream(org, stream_id)
        if stream is None or stream["status"] != ACTIVE:
            return {"delivered": 0, "skipped": "deleted" if stream is None else "paused"}
        if message.get("backfill"):
            if not self._backfill_step(org, stream, message["backfill"]):
                return {"delivered": 0, "backfill": "running"}
        elif _gathering(store.stream_state(org, stream_id)["backfill"], self.now()):
            # Older entries are still being gathered: sending the newer ones now would break id order.
            return {"delivered": 0, "backfill": "running"}
        return self._deliver(org, stream, deadline)

    def _deliver(self, org: str, stream: dict, deadline: Optional[float] = None) -> dict:
        from activitylog.streams import destinations, formats

        store, stream_id = self.service.store, stream["id"]
        secret = self.secrets.get(org, stream_id) if stream.get("has_secret") else None
        kind = stream["destination"]["kind"]
        config = {name: value for name, value in stream["destination"].items() if name != "kind"}
        target = destinations.destination(
            kind, config, secret, allow_loopback=self.allow_loopback, resolve=self.resolve, session=self.session
        )
        delivered = 0
        while True:
            waiting = store.waiting(org, stream_id, WAITING_PAGE)
            if not waiting:
                break
            documents = [document or self._document(org, entry_id) for entry_id, document in waiting]
            # held sealed while waiting; opened (or [erased], if erased meanwhile) only in the body sent
            documents = self.service.shown_document(org, documents)
            events = [formats.render(document, stream["format"], org=org) for document in documents if document]
            outcome = target.send(events)
            now = self.now()
            if not outcome.ok:
                self._failed(org, stream, outcome, now)
            store.remove_waiting(org, stream_id, [entry_id for entry_id, _ in waiting])
            delivered += len(waiting)
            store.set_stream_state(
                org,
                stream_id,
                failing_since=None,
                last_delivery={"at": iso_time(now), "events": len(waiting), "status": outcome.status},
            )
            if deadline is not None and time.monotonic() > deadline:  # the function's time is running out
                self.doorbell.ring(org, stream_id, f"more:{waiting[-1][0]}")
                return {"delivered": delivered, "more": True}
        return {"delivered": delivered}

    def _document(self, org: str, entry_id: str) -> Optional[dict]:
        """An entry too large to copy into its waiting item, as it is now (None: gone by its retention)."""
        entry = self.service.stored(org, entry_id)
        return entry_document(entry) if entry is not None else None

    def _failed(self, org: str, stream: dict, outcome: Any, now: datetime) -> None:
        store, stream_id = self.service.store, stream["id"]
        state = store.stream_state(org, stream_id)
        failing_since = state["failing_since"] or int(now.timestamp() * 1000)
        error = {"at": iso_time(now), "status": outcome.status, "detail": outcome.detail}
        store.set_stream_state(org, stream_id, last_error=error, failing_since=failing_since)
        started = datetime.fromtimestamp(failing_since / 1000, timezone.utc)
        if now - started >= PAUSE_AFTER:
            self._pause(org, stream, error)
            raise Paused()
        raise Failed(f"{stream['destination']['kind']} answered {outcome.status}: {outcome.detail}")

    def _pause(self, org: str, stream: dict, error: dict) -> None:
        """PAUSED (not deleted), a SYSTEM_EVENT WARNING in the org's log, an email to its admins."""
        from activitylog.inputs import NewEntry
        from activitylog.rules import new_entry
        from activitylog.streams.settings import public

        what = f"{error['status'] or 'no answer'}: {error['detail']}"[:300]
        paused = {**stream, "status": PAUSED, "paused_reason": f"24 h of failed deliveries: {what}"}
        event = f"Stream “{stream['name']}” paused after 24 h of failed deliveries: {what}"
        document = NewEntry.model_validate(
            {
                "type": "SYSTEM_EVENT",
                "status": "WARNING",
                "action": "paused",
                "actor": {"kind": "system", "id": "streams", "name": "Streams"},
                "event": event[:500],
                "entity": {"type": "integration", "id": f"stream:{stream['id']}", "label": stream["name"]},
                "before": public(stream),
                "after": public(paused),
                "metadata": {"warning": event},
            }
        )
        entry = new_entry(
            document,
            "streams",
            self.service.clock(),
            self.service.retention(org).hot_days,
            table_days=self.service.storage(org).table_days,
        )
        self.service.store.save_stream(self.service.storage(org), paused, entry)
        if stream.get("notify_email"):
            self.mailer.send(
                stream["notify_email"],
                f"Activity log stream “{stream['name']}” paused",
                f"{event}\n\nFix the destination, then resume the stream: "
                f"POST /settings/streams/{stream['id']}/resume. What waited is delivered in order.",
            )

    def _backfill_step(self, org: str, stream: dict, backfill: dict) -> bool:
        """One page of the window's entries (the list's own query, newest first) into the waiting items; True
        when the window is done (what waits is then delivered, in id order, old and new together)."""
        store = self.service.store
        wanted = parse_stream_filter(stream["filter"])[1]
        since, until = datetime.fromisoformat(backfill["since"]), datetime.fromisoformat(backfill["until"])
        high = ids.before(backfill["cursor"]) if backfill.get("cursor") else ids.upper_bound(until)
        page = self.service.read_page(org, wanted, ids.lower_bound(since), high, BACKFILL_PAGE, detail=True)
        if page.items:
            store.add_waiting(
                org,
                stream["id"],
                [entry_document(entry) for entry in page.items],
                int(time.time()) + WAITING_DAYS * 86400,
            )
        state = store.stream_state(org, stream["id"])["backfill"] or {}
        done = page.position is None
        store.set_stream_state(
            org,
            stream["id"],
            backfill={
                **state,
                "state": "done" if done else "running",
                "entries": int(state.get("entries", 0)) + len(page.items),
                "at": iso_time(self.now()),  # its last step: a backfill whose doorbell was lost stops holding the lane
            },
        )
        if not done:
            self.doorbell.ring(
                org, stream["id"], f"backfill:{page.position}", backfill={**backfill, "cursor": page.position}
            )
        return done


def _gathering(backfill: Optional[dict], now: datetime) -> bool:
    """A backfill still running: started or stepped within ``BACKFILL_STALE`` (its doorbell may have been lost)."""
    if not backfill or backfill.get("state") != "running":
        return False
    last = backfill.get("at") or backfill.get("until")
    return last is None or now - datetime.fromisoformat(last) < BACKFILL_STALE


class Paused(Exception):
    """The stream was paused just now: its doorbell is consumed."""


def handle_doorbells(delivery: Delivery, event: dict, context: Any, queue_url: Optional[str]) -> Any:
    """The FIFO batch: each doorbell rung. A failed one, and those behind it in its lane (Powertools' FIFO processor
    fails them unprocessed; other lanes carry on), come back after the failure's backoff (ChangeMessageVisibility),
    not after the queue's whole visibility timeout."""
    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

    # A lane stops sending with time to spare: a delivery cut off by the timeout would come back only after the
    # queue's visibility timeout, having sent a page it did not record.
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else 60.0
    deadline = time.monotonic() + max(1.0, remaining - SPARE_SECONDS)

    def record(record: Any) -> None:
        try:
            delivery.ring(json.loads(record.body), int(record.attributes.approximate_receive_count or 1), deadline)
        except Paused:
            return

    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    processor.raise_on_entire_batch_failure = False  # one failing lane is the whole batch, often: report, not raise
    answer = process_partial_response(event=event, record_handler=record, processor=processor, context=context)
    failed = {failure["itemIdentifier"] for failure in answer.get("batchItemFailures", [])}
    lanes: dict[str, int] = {}  # a lane's backoff: its first failed doorbell's
    for raw in event.get("Records", []):
        if raw["messageId"] in failed:
            attributes = raw.get("attributes") or {}
            lanes.setdefault(attributes.get("MessageGroupId", ""), int(attributes.get("ApproximateReceiveCount", 1)))
    if queue_url and failed:
        delays = []
        for raw in event["Records"]:
            if raw["messageId"] in failed:
                group = (raw.get("attributes") or {}).get("MessageGroupId", "")
                delays.append((raw["receiptHandle"], backoff_seconds(lanes[group])))
        from activitylog.backoff import retry_later

        retry_later(delivery.doorbell.client, queue_url, delays)
    return answer
