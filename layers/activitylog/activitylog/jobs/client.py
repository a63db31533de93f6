"""The activity client: how any Lambda of the platform logs, without knowing the log's table.

It publishes events (``activitylog.jobs.events``) to the platform's EventBridge bus; a rule
sends them through their own SQS queue to the log's activity events consumer, which writes the entries. So a
producer never waits on the log's table, and never fails because of it: when the bus
cannot be reached the events wait in a bounded buffer (logged, and counted in the
``ActivityEventsBuffered`` metric) and go out, in order, with the next call or ``flush()``.

>>> sent = []  # what goes to the bus (here captured; in a Lambda the process's publisher sends it to EventBridge)
>>> activity = ActivityClient(org="org_demo", correlation_id="req_1", publisher=_Capture(sent))
>>> riley = {"kind": "user", "id": "u_riley", "name": "Riley"}
>>> square, woo = {"type": "integration", "id": "square", "label": "Square"}, {"type": "integration", "id": "woo", "label": "Woo"}
>>> entry_id = activity.record(type="USER_ACTION", actor=riley, action="started", event="Stock sync started · Square", entity=square)
>>> with activity.job("SYNC_SQUARE_STOCK", entity=square, params={"location_ids": ["L1"]}) as job:
...     job.progress(processed=120, total=500)
...     sent_id = activity.webhook_sent("inventory.updated", woo, url="https://woo.example/hooks", response_status=200)  # in the job's chain
...     job.warn("12 items had no SKU")  # ends WARNING instead of SUCCESS
>>> entry_id = activity.system_event("updated", "Setting changed · Tax collection", entity={"type": "setting", "id": "tax", "label": "Tax"},
...                                  before={"mode": "origin"}, after={"mode": "destination"})
>>> [(event["DetailType"], json.loads(event["Detail"])["entry"].get("status")) for event in sent]
[('ActivityRecorded', 'SUCCESS'), ('JobStarted', 'IN_PROGRESS'), ('JobProgressed', 'IN_PROGRESS'),
 ('ActivityRecorded', 'SUCCESS'), ('JobFinished', 'WARNING'), ('ActivityRecorded', 'SUCCESS')]

An exception inside ``job(...)`` records the run FAILED with the error's message and stack
trace, then propagates. Every entry of a job carries its ``correlation_id`` (the caller's,
else the run's own id), and so does everything recorded inside its ``with`` block: one
``GET /activities/{id}/related`` shows the chain.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections import deque
from contextvars import ContextVar, Token
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Literal, Optional

from activitylog import ids
from activitylog.jobs import events
from activitylog.jobtypes import job_type
from activitylog.observability import logger
from activitylog.tracecontext import parse_traceparent

SYSTEM = {"kind": "system", "id": "system", "name": "system"}
BUFFER_LIMIT = 1000  # events kept while the bus is away; past it the oldest are dropped (and counted)
PAUSE_SECONDS = 5.0  # after a failed send, calls only buffer for this long: a job must not wait on a bus that is away
MAX_STACK = 32_000  # characters of a stack trace kept: its start and its end, where the error is
MAX_MESSAGE = 4000
PUT_EVENTS_BATCH = 10  # entries in one PutEvents request, at most (and less than 256 KB together)
# Per-entry error codes worth sending again; any other is the entry's own fault, and final.
TRANSIENT_CODES = frozenset({"InternalFailure", "InternalException", "ThrottlingException", "Throttling"})

# The chain the code running now belongs to: set inside a job's ``with`` block.
_chain: ContextVar[Optional[str]] = ContextVar("activitylog_chain", default=None)
# Its W3C trace (trace id, parent id), likewise: what a job's entries and the webhooks it sends carry.
_trace: ContextVar[Optional[tuple[str, str]]] = ContextVar("activitylog_trace", default=None)


class Publisher:
    """Sends PutEvents entries to the bus, buffering (bounded, in order) whatever cannot go now.

    ``publish`` and ``flush`` never raise; ``send`` (no buffer) does. After a failed send,
    ``publish`` only buffers for ``pause`` seconds, so a job reporting progress does not wait
    on an unreachable bus at every report; ``flush`` always tries.

    One per process by default (``default_publisher``), so what a warm Lambda buffered goes
    out with its next invocation.
    """

    def __init__(
        self,
        bus: Optional[str] = None,
        events_client: Any = None,
        limit: int = BUFFER_LIMIT,
        pause: float = PAUSE_SECONDS,
    ) -> None:
        self.bus = bus if bus is not None else _settings().activity_bus_name
        self._events = events_client
        self.limit = limit
        self.pause = pause
        self.pending: deque[dict] = deque()
        self.dropped = 0
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def publish(self, entries: list[dict]) -> None:
        """Queue ``entries`` behind anything buffered, then send what can be sent.

        An entry too large for any request is refused here, logged and counted
        (``ActivityEventsRejected``): buffered, it would be refused for ever.
        """
        with self._lock:
            for entry in entries:
                if _too_large(entry):
                    continue
                if len(self.pending) >= self.limit:
                    self.pending.popleft()
                    self.dropped += 1
                    logger.error("activity buffer full: the oldest event was dropped", extra={"limit": self.limit})
                    _count("ActivityEventsDropped", 1)
                self.pending.append(entry)
            if time.monotonic() >= self._paused_until:
                self._drain()

    def send(self, entries: list[dict]) -> None:
        """Send ``entries`` now or raise: for an event whose sender must know it went (a retry's run request)."""
        if not self.bus:
            raise RuntimeError(f"no event bus: set {events.BUS_VARIABLE}")
        answer = self._client().put_events(Entries=[events.with_bus(e, self.bus) for e in entries])
        if answer.get("FailedEntryCount"):
            codes = sorted({r.get("ErrorCode") for r in answer.get("Entries", []) if r.get("ErrorCode")})
            raise RuntimeError(f"the bus refused {answer['FailedEntryCount']} event(s): {', '.join(codes)}")

    def flush(self) -> int:
        """Send what is buffered (even while paused); answers how many events are still waiting."""
        with self._lock:
            self._drain()
            return len(self.pending)

    def _drain(self) -> None:
        """Send the buffer from its head in requests the bus takes (at most ten entries, less than 256 KB).

        The bus away (a connection error, throttling, a 5xx) or an entry it answers with a
        transient code (``InternalFailure``, throttling): the rest waits, in order, and calls only
        buffer for ``pause`` seconds. A request refused as a whole (``ValidationException``) is
        sent again one entry at a time, so only the entry it cannot take is dropped; an entry
        refused for what it is (``InvalidArgument``, ``MalformedDetail``) is dropped too, logged
        and counted (``ActivityEventsRejected``). Nothing refused for good stays at the head.
        """
        one_by_one = 0  # entries to send alone, after a request refused as a whole
        while self.pending:
            batch = self._next_batch(1 if one_by_one else PUT_EVENTS_BATCH)
            try:
                if not self.bus:
                    raise RuntimeError(f"no event bus: set {events.BUS_VARIABLE}")
                answer = self._client().put_events(Entries=[events.with_bus(e, self.bus) for e in batch])
            except Exception as error:  # noqa: BLE001 - the log must never break its producer
                if _refused_whole(error):
                    if len(batch) > 1:
                        one_by_one = len(batch)
                        continue
                    self.pending.popleft()
                    one_by_one = max(0, one_by_one - 1)
                    _reject(batch[0], str(error))
                    continue
                logger.warning(
                    "activity events buffered: the bus is unavailable",
                    extra={"bus": self.bus, "buffered": len(self.pending), "error": str(error)},
                )
                _count("ActivityEventsBuffered", len(self.pending))
                self._paused_until = time.monotonic() + self.pause
                return
            one_by_one = max(0, one_by_one - len(batch))
            retry = []
            for entry, result in zip(batch, answer.get("Entries", []), strict=False):
                code = result.get("ErrorCode")
                if code in TRANSIENT_CODES:
                    retry.append(entry)
                elif code:
                    _reject(entry, f"{code}: {result.get('ErrorMessage')}")
            for _ in batch:
                self.pending.popleft()
            if retry:  # back to the front, in order: they go first next time
                self.pending.extendleft(reversed(retry))
                logger.warning(
                    "activity events buffered: the bus refused some for now",
                    extra={
                        "bus": self.bus,
                        "refused": len(retry),
                        "error": next(
                            r.get("ErrorCode") for r in answer["Entries"] if r.get("ErrorCode") in TRANSIENT_CODES
                        ),
                    },
                )
                _count("ActivityEventsBuffered", len(self.pending))
                self._paused_until = time.monotonic() + self.pause
                return
        self._paused_until = 0.0

    def _next_batch(self, most: int) -> list[dict]:
        """The head of the buffer: up to ``most`` entries whose sizes total less than EventBridge's limit."""
        batch: list[dict] = []
        total = 0
        for entry in self.pending:
            size = events.entry_size(entry)
            if batch and (len(batch) == most or total + size >= events.MAX_EVENT_BYTES):
                break
            batch.append(entry)
            total += size
        return batch

    def _client(self) -> Any:
        if self._events is None:
            import boto3
            from botocore.config import Config

            # A producer waits at most a few seconds on an unreachable bus, then buffers.
            self._events = boto3.client(
                "events",
                config=Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"}),
            )
        return self._events


class _Capture(Publisher):
    """Keeps what would be published (``ActivityClient.draft``)."""

    def __init__(self, into: list[dict]) -> None:
        super().__init__(bus="draft")
        self.into = into

    def publish(self, entries: list[dict]) -> None:
        self.into.extend(entries)


_default: Optional[Publisher] = None


def default_publisher() -> Publisher:
    """The process's publisher, for a platform Lambda using the client on its own (the log's functions
    get theirs from ``activitylog.wiring``)."""
    global _default
    if _default is None:
        _default = Publisher()
    return _default


def _settings() -> Any:
    """The environment as ``activitylog.config.Settings`` reads it: the bus (``events.BUS_VARIABLE``), the producer."""
    from activitylog.config import Settings

    return Settings.from_environ()


class ActivityClient:
    """Records an org's activity through the platform bus (see the module's docstring).

    ``correlation_id`` is the caller's (a dashboard request's id): everything recorded through
    this client joins that chain. ``traceparent`` is the caller's W3C trace context (its request's
    header): every entry recorded through it, and by the jobs it runs, keeps that trace (an invalid
    one is ignored). ``actor`` is who entries are by unless a call says otherwise.
    """

    def __init__(
        self,
        org: str,
        *,
        correlation_id: Optional[str] = None,
        traceparent: Optional[str] = None,
        actor: Optional[dict] = None,
        publisher: Optional[Publisher] = None,
        producer: Optional[str] = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.org = org
        self.correlation_id = correlation_id
        self.traceparent = traceparent
        self.trace = parse_traceparent(traceparent)
        self.actor = actor or SYSTEM
        self.publisher = publisher or default_publisher()
        self.producer = producer or _settings().function_name or "activity-client"
        self.clock = clock

    def chain(self, explicit: Optional[str] = None) -> Optional[str]:
        """The correlation id a new entry carries: given, else the running job's, else the client's."""
        return explicit or _chain.get() or self.correlation_id

    def traced(self) -> dict:
        """The trace fields a new entry carries: the running job's, else the client's (none without one)."""
        trace = _trace.get() or self.trace
        return {"trace_id": trace[0], "span_id": trace[1]} if trace else {}

    # -- entries that happen at once ---------------------------------------------------------

    def record(
        self,
        *,
        type: str,
        action: str,
        event: str,
        status: str = "SUCCESS",
        actor: Optional[dict] = None,  # noqa: A002
        entity: Optional[dict] = None,
        before: Optional[dict] = None,
        after: Optional[dict] = None,
        metadata: Optional[dict] = None,
        error: Optional[dict] = None,
        correlation_id: Optional[str] = None,
        retry_of: Optional[str] = None,
        source: Optional[dict] = None,
        webhook: Optional[dict] = None,
        entry_id: Optional[str] = None,
    ) -> str:
        """Record one entry (a user action, a system event, a webhook); answers its id (``entry_id`` if given)."""
        now = ids.occurred_at(entry_id) if entry_id else self.clock()  # an entry's time is its id's
        entry_id = entry_id or ids.new_id(now)
        document = _without_none(
            {
                "type": type,
                "status": status,
                "actor": actor or self.actor,
                "action": action,
                "event": event,
                "entity": entity,
                "occurred_at": _iso(now),
                "before": before,
                "after": after,
                "metadata": metadata,
                "error": error,
                "correlation_id": self.chain(correlation_id),
                "retry_of": retry_of,
                "source": source,
                "webhook": webhook,
                **self.traced(),
            }
        )
        self._send(entry_id, document, events.ACTIVITY_RECORDED, None, now)
        return entry_id

    def draft(self, *, entry_id: str, **fields: Any) -> dict:
        """What ``record(entry_id=…, **fields)`` would send, for an event that carries the entry itself (a
        retry's run request: ``events.RunRequest.record``); fitted to one event and validated, or raises."""
        drafted: list[dict] = []
        recorder = ActivityClient(
            self.org,
            correlation_id=self.correlation_id,
            traceparent=self.traceparent,
            actor=self.actor,
            producer=self.producer,
            publisher=_Capture(drafted),
            clock=self.clock,
        )
        recorder.record(entry_id=entry_id, **fields)
        if not drafted:
            raise ValueError(f"entry {entry_id} is not a valid entry (logged)")
        return {"entry_id": entry_id, "entry": json.loads(drafted[0]["Detail"])["entry"], "producer": self.producer}

    def system_event(
        self,
        action: str,
        event: str,
        *,
        entity: Optional[dict] = None,
        before: Optional[dict] = None,
        after: Optional[dict] = None,
        metadata: Optional[dict] = None,
        status: str = "SUCCESS",
    ) -> str:
        """A SYSTEM_EVENT by the platform: a migration, a configuration change (``before``/``after``), a cache clear."""
        return self.record(
            type="SYSTEM_EVENT",
            action=action,
            event=event,
            status=status,
            actor=SYSTEM,
            entity=entity,
            before=before,
            after=after,
            metadata=metadata,
        )

    def webhook_sent(
        self,
        topic: str,
        target: dict,
        *,
        url: str,
        body: Any = None,
        method: str = "POST",
        response_status: Optional[int] = None,
        response_body: Any = None,
        duration_ms: int = 0,
        attempt: Optional[int] = None,
        gave_up: bool = True,
        error: Optional[str] = None,
        retry_of: Optional[str] = None,
        correlation_id: Optional[str] = None,
        entry_id: Optional[str] = None,
    ) -> str:
        """An outgoing webhook (platform → ``target``, an integration entity), in the ``webhook`` shape of
        ``POST /activities`` (kept redacted in ``metadata.webhook``): SUCCESS on a 2xx answer; otherwise
        FAILED, or WARNING when it will be retried (``gave_up=False``). A failed one can be retried from
        its entry (a ``SEND_WEBHOOK`` job: its topic, URL, method and body)."""
        from activitylog.redaction import redact_document, scrub_text, scrub_url

        # Redacted here, not only when recorded: the event waits on the bus, the activity events queue and its dead letters.
        ok = response_status is not None and 200 <= response_status < 300
        target = {**target, "label": scrub_text(str(target.get("label") or ""))} if target.get("label") else target
        label = target.get("label") or target.get("id")
        webhook = {
            "direction": "outgoing",
            "url": scrub_url(url),
            "method": method,
            "request_headers": {"content-type": "application/json"},
            "request_body": redact_document(body if body is not None else {"topic": topic}),
            "duration_ms": max(0, int(duration_ms)),
            "response": {"status_code": response_status, "body": redact_document(response_body)}
            if response_status is not None
            else None,
        }
        if attempt is not None:
            webhook["attempt"] = attempt
        said = (
            scrub_text(error)
            if error
            else f"{label} answered {response_status}"
            if response_status
            else f"{label} did not answer"
        )
        failure = None if ok else {"message": said, "type": "WebhookDeliveryError"}
        return self.record(
            type="WEBHOOK",
            status="SUCCESS" if ok else "FAILED" if gave_up else "WARNING",
            actor=SYSTEM,
            action="sent",
            event=f"Webhook sent · {topic} → {label}",
            entity=target,
            metadata={"topic": topic},
            webhook=webhook,
            error=failure,
            retry_of=retry_of,
            correlation_id=correlation_id,
            entry_id=entry_id,
        )

    # -- jobs --------------------------------------------------------------------------------

    def job(
        self,
        name: str,
        *,
        entity: Optional[dict] = None,
        params: Optional[dict] = None,
        retryable: Optional[bool] = None,
        label: Optional[str] = None,
        actor: Optional[dict] = None,
        action: Optional[str] = None,
        retry_of: Optional[str] = None,
        run_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
        timeout: Optional[timedelta] = None,
    ) -> "JobRun":
        """One run of job ``name``, as a context manager (see the module's docstring).

        ``retryable`` may only narrow its type's (``activitylog.jobtypes``): a run can say it must not be
        retried, never make a type retryable. ``run_id`` is an id minted for it already (a
        retry's); ``timeout`` overrides its type's stall timeout.
        """
        return JobRun(
            self,
            name,
            entity=entity,
            params=params or {},
            retryable=retryable,
            label=label,
            actor=actor,
            action=action,
            retry_of=retry_of,
            run_id=run_id,
            correlation_id=correlation_id,
            timeout=timeout,
        )

    def flush(self) -> int:
        """Send what is buffered now; answers how many events still wait for the bus."""
        return self.publisher.flush()

    def _send(self, entry_id: str, document: dict, detail_type: str, sequence: Optional[int], at: datetime) -> None:
        try:
            document = _fitted(document)
            from activitylog.inputs import NewEntry

            NewEntry.model_validate(document)  # a bad document is the producer's bug: say so here, not in a DLQ
        except Exception as error:  # noqa: BLE001 - never into the caller
            logger.error(
                "activity entry not sent: it is not a valid entry", extra={"entry_id": entry_id, "error": str(error)}
            )
            _count("ActivityEventsRejected", 1)
            return
        self.publisher.publish(
            [
                events.activity_event(
                    self.org,
                    entry_id,
                    document,
                    detail_type=detail_type,
                    sequence=sequence,
                    producer=self.producer,
                    at=at,
                )
            ]
        )


class JobRun:
    """One run of a job: its entry is started, moved along and finished through the bus.

    ``job.id`` is the entry's id from the start, so every report addresses the one entry.
    """

    def __init__(
        self,
        client: ActivityClient,
        name: str,
        *,
        entity: Optional[dict],
        params: dict,
        retryable: Optional[bool],
        label: Optional[str],
        actor: Optional[dict],
        action: Optional[str],
        retry_of: Optional[str],
        run_id: Optional[str],
        correlation_id: Optional[str],
        timeout: Optional[timedelta],
    ) -> None:
        kind = job_type(name)
        if retryable and not kind.retryable:
            logger.warning("a run cannot make its job type retryable (the register decides)", extra={"job": name})
        self.client = client
        self.name = name
        self.started_at = ids.occurred_at(run_id) if run_id else client.clock()  # an entry's time is its id's
        self.id = run_id or ids.new_id(self.started_at)
        self.correlation_id = client.chain(correlation_id) or self.id  # a run nobody started begins its own chain
        self.trace = client.traced()  # the caller's trace, kept by every report of the run
        self.status = "IN_PROGRESS"
        self.event = f"{name} · {label}" if label else name
        self.entity = entity or {"type": "job", "id": name.lower(), "label": name}
        self.actor = actor or client.actor
        self.action = action or kind.verb
        self.retry_of = retry_of
        self.metadata: dict[str, Any] = {
            "job": name,
            "params": params,
            "retryable": kind.retryable and retryable is not False,
        }
        if timeout is not None:
            self.metadata["timeout_seconds"] = max(1, int(timeout.total_seconds()))
        self.error: Optional[dict] = None
        self.finished_at: Optional[datetime] = None
        self._final: Optional[str] = None  # WARNING once warn() was called
        self._sequence = 0
        self._token: Optional[Token[Optional[str]]] = None
        self._trace_token: Optional[Token[Optional[tuple[str, str]]]] = None
        self.started = False

    def __enter__(self) -> "JobRun":
        self.start()
        self._token = _chain.set(self.correlation_id)
        if self.trace:
            self._trace_token = _trace.set((self.trace["trace_id"], self.trace["span_id"]))
        return self

    def __exit__(self, kind, error, trace) -> Literal[False]:
        if self._token is not None:
            _chain.reset(self._token)
            self._token = None
        if self._trace_token is not None:
            _trace.reset(self._trace_token)
            self._trace_token = None
        if not self.finished_at:
            if error is not None:
                self.fail(error)
            else:
                self.finish()
        return False  # an exception goes on to the caller

    def start(self) -> None:
        if not self.started:
            self.started = True
            self._report(events.JOB_STARTED)

    def progress(self, event: Optional[str] = None, **counts: Any) -> None:
        """Report progress: ``job.progress(processed=120, total=500)``; values replace the last ones."""
        if self.finished_at:
            return
        self.metadata.update(counts)
        if event:
            self.event = event
        self._report(events.JOB_PROGRESSED)

    def warn(self, message: str, **details: Any) -> None:
        """Note a caveat (a partial sync): the run ends WARNING, with the messages in ``metadata.warnings``."""
        self.metadata["warnings"] = [*self.metadata.get("warnings", []), message[:MAX_MESSAGE]]
        self.metadata.update(details)
        self._final = "WARNING"

    def fail(self, error: BaseException | str, **details: Any) -> None:
        """Finish FAILED with the error's message and (for an exception) its stack trace."""
        if isinstance(error, BaseException):
            stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            self.error = {
                "message": (str(error) or type(error).__name__)[:MAX_MESSAGE],
                "type": type(error).__name__,
                "stack": _cut(stack),
            }
        else:
            self.error = {"message": str(error)[:MAX_MESSAGE]}
        self.metadata.update(details)
        self.finish("FAILED")

    def finish(self, status: Optional[str] = None, **details: Any) -> None:
        """Finish SUCCESS (or WARNING after ``warn``, or ``status``)."""
        if self.finished_at:
            return
        self.start()
        self.metadata.update(details)
        self.finished_at = self.client.clock()
        self.status = status or self._final or "SUCCESS"
        self.metadata["duration_ms"] = int((self.finished_at - self.started_at).total_seconds() * 1000)
        self._report(events.JOB_FINISHED)

    def _report(self, detail_type: str) -> None:
        # Time-based, never repeating: another process continuing the run still orders after us.
        self._sequence = max(self._sequence + 1, time.time_ns() // 1000)
        document = _without_none(
            {
                "type": "BACKGROUND_JOB",
                "status": self.status,
                "actor": self.actor,
                "action": self.action,
                "event": self.event,
                "entity": self.entity,
                "occurred_at": _iso(self.started_at),
                "metadata": self.metadata,
                "error": self.error,
                "correlation_id": self.correlation_id,
                "retry_of": self.retry_of,
                "finished_at": _iso(self.finished_at) if self.finished_at else None,
                **self.trace,
            }
        )
        self.client._send(
            self.id,
            json.loads(json.dumps(document, default=str)),
            detail_type,
            self._sequence,
            self.finished_at or self.client.clock(),
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _without_none(document: dict) -> dict:
    return {key: value for key, value in document.items() if value is not None}


def _cut(text: str, limit: int = MAX_STACK) -> str:
    if len(text) <= limit:
        return text
    head = limit // 8
    return f"{text[:head]}\n… ({len(text) - limit} characters cut) …\n{text[-(limit - head) :]}"


def _fitted(document: dict) -> dict:
    """The document, made to fit one EventBridge event: first the stack trace, then the metadata, give way."""

    def size(doc: dict) -> int:
        return len(json.dumps(doc, default=str).encode())

    budget = events.MAX_EVENT_BYTES - 4096  # the event's envelope
    if size(document) <= budget:
        return document
    document = dict(document)
    if document.get("error", {}).get("stack"):
        document["error"] = {**document["error"], "stack": _cut(document["error"]["stack"], 4000)}
    if size(document) > budget and document.get("metadata"):
        kept = {key: document["metadata"][key] for key in ("job", "retryable") if key in document["metadata"]}
        document["metadata"] = {**kept, "truncated": f"metadata of {size(document)} bytes did not fit in one event"}
    return document


def _too_large(entry: dict) -> bool:
    """Whether no request can carry ``entry``; if so, it is refused (logged and counted)."""
    size = events.entry_size(entry)
    if size < events.MAX_EVENT_BYTES:
        return False
    _reject(
        entry,
        f"the event is {size:,} bytes; EventBridge takes less than {events.MAX_EVENT_BYTES:,} in one request "
        "(only a job's stack trace and metadata are cut to fit: keep before/after, webhook bodies and labels smaller)",
    )
    return True


def _refused_whole(error: Exception) -> bool:
    """Whether the bus refused the request for what it holds (not because it is away or busy)."""
    from botocore.exceptions import ClientError, ParamValidationError

    if isinstance(error, ParamValidationError):
        return True
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in (
        "ValidationException",
        "SerializationException",
    )


def _reject(entry: dict, reason: str) -> None:
    """An event the bus will never take: said loudly, counted, and let go so the rest can go out."""
    entry_id = None
    try:
        entry_id = json.loads(entry.get("Detail") or "{}").get("entry_id")
    except (ValueError, AttributeError):
        pass
    logger.error(
        "activity event refused: it is not sent, and not kept",
        extra={"entry_id": entry_id, "reason": reason, "detail_type": entry.get("DetailType")},
    )
    _count("ActivityEventsRejected", 1)


def _count(name: str, value: int) -> None:
    """A metric now (a producer's handler may not flush Powertools' metrics)."""
    try:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace="ActivityLog") as metric:
            metric.add_dimension(name="service", value="activity-client")
    except Exception:  # noqa: BLE001 - a metric must not break the producer either
        logger.exception("could not emit %s", name)
