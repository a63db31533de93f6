"""Retry: ``POST /activities/{id}/retry`` runs a FAILED or WARNING job again, linked to the original.

What may be retried is the register's call (``jobtypes.retry_target``): a FAILED or
WARNING BACKGROUND_JOB, or outgoing webhook, of a type marked retryable. Anything else is
a 409 saying why (a one-time sync: "re-trigger it from its integration page").

A retry publishes ``RetryRequested`` (the original's job, parameters, entity and chain, and
the new run's entry id) on the platform bus, where a job handler picks it up. The same event
carries the caller's USER_ACTION "Retried …" with ``retry_of``, which the ingest records: the
bus takes both or neither. The run's entry carries ``retry_of`` too, and all of them join the
original's chain. Pressing Retry twice within ``RETRY_WINDOW_SECONDS`` answers the first retry
again (Powertools idempotency, keyed on the org and the entry): one run. A press by another
team member within the window shares that run, and is recorded in their own name: their
"Retried …" entry (``metadata.run_id`` the shared run), once per member (a second key, on the
entry and the member).

``retry(service, caller, entry_id, lambda_context, publisher, persistence)`` answers the new run: its ``id``,
``run_id``, ``retry_of`` (the entry retried), ``job`` and ``correlation_id``.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, Callable, Optional

from activitylog import ids, tracecontext
from activitylog.entry import Entry
from activitylog.errors import Unavailable
from activitylog.idempotency import run_once
from activitylog.jobs.client import ActivityClient, Publisher
from activitylog.jobs.events import RunRequest, activity_event
from activitylog.jobtypes import retry_target
from activitylog.scopes import ROUTE_SCOPES
from activitylog.service import ActivityService, Caller
from activitylog.tracecontext import parse_traceparent

ROUTE = "POST /activities/{id}/retry"
RETRY_WINDOW_SECONDS = 300  # a second press within it answers the first retry
WAIT_FOR_FIRST_SECONDS = 10  # a press while the first is still being handled waits for its answer


def retry(
    service: ActivityService,
    caller: Caller,
    entry_id: str,
    lambda_context: Any,
    publisher: Publisher,
    persistence: Callable[[], Any],
    traceparent: Optional[str] = None,
) -> dict:
    """``traceparent``: the request's W3C trace context; the run and its entries join that trace (an
    invalid or absent one: the original entry's trace, so the retry is found with what it retries)."""
    caller.require(ROUTE_SCOPES[ROUTE])
    ids.check_entry_id(entry_id)
    shared = dict(
        run_once(
            caller.org,
            ROUTE,
            entry_id,
            None,
            lambda_context,
            lambda: _run_again(service, caller, service.find(caller.org, entry_id), publisher, traceparent),
            persistence=persistence,
            window_seconds=RETRY_WINDOW_SECONDS,
            wait_seconds=WAIT_FOR_FIRST_SECONDS,
        )
    )
    if shared.pop("pressed_by", None) == caller.subject:
        return shared  # this member's press started the run (now, or pressed again)
    member = hashlib.sha256(caller.subject.encode()).hexdigest()[:32]  # keeps the key short whatever the subject
    return run_once(
        caller.org,
        ROUTE,
        f"{entry_id}#{member}",
        None,
        lambda_context,
        lambda: _join(service, caller, service.find(caller.org, entry_id), shared, publisher, traceparent),
        persistence=persistence,
        window_seconds=RETRY_WINDOW_SECONDS,
        wait_seconds=WAIT_FOR_FIRST_SECONDS,
    )


def _trace_of(original: Entry, traceparent: Optional[str]) -> Optional[str]:
    """The trace a retry runs under: the request's, else the original entry's."""
    if parse_traceparent(traceparent):
        return traceparent
    return tracecontext.traceparent(original.trace_id, original.span_id or "") if original.trace_id else None


def _run_again(
    service: ActivityService, caller: Caller, original: Entry, publisher: Publisher, traceparent: Optional[str]
) -> dict:
    name, params = retry_target(original)
    trace = _trace_of(original, traceparent)
    chain = original.correlation_id or original.id
    user = _presser(caller)
    pressed = service.clock()
    action_id = ids.new_id(pressed)  # the click comes first in the chain's time order, then the run
    run_id = ids.new_id(pressed + timedelta(milliseconds=1))
    record = _retried(caller, original, publisher, action_id, chain, {"job_type": name, "run_id": run_id}, trace)
    request = RunRequest(
        org_id=caller.org,
        job=name,
        run_id=run_id,
        params=params,
        entity=original.entity,
        correlation_id=chain,
        retry_of=original.id,
        requested_by=user,
        record=record,
        traceparent=trace,
    )
    try:  # one event: the run and the caller's "Retried" entry are taken, or neither is
        publisher.send([request.event()])
    except Exception as error:  # noqa: BLE001 - any refusal of the bus: nothing started
        raise Unavailable(
            f"the event bus did not take the retry ({error}); nothing was started, try again", "id"
        ) from None
    # ``pressed_by`` stays in the stored answer (not in the one given): whose press started the run
    return {
        "id": action_id,
        "run_id": run_id,
        "retry_of": original.id,
        "job": name,
        "correlation_id": chain,
        "pressed_by": caller.subject,
    }


def _join(
    service: ActivityService,
    caller: Caller,
    original: Entry,
    shared: dict,
    publisher: Publisher,
    traceparent: Optional[str],
) -> dict:
    """Another member's press while the run ``shared`` answers is fresh: no second run, their own "Retried …" entry."""
    action_id = ids.new_id(service.clock())
    joined = {"job_type": shared["job"], "run_id": shared["run_id"], "run_retried_by": shared["id"]}
    record = _retried(
        caller, original, publisher, action_id, shared["correlation_id"], joined, _trace_of(original, traceparent)
    )
    try:
        publisher.send([activity_event(caller.org, action_id, record["entry"], producer=record["producer"])])
    except Exception as error:  # noqa: BLE001 - any refusal of the bus: nothing recorded
        raise Unavailable(
            f"the event bus did not take the retry ({error}); nothing was recorded, try again", "id"
        ) from None
    return {**shared, "id": action_id}


def _presser(caller: Caller) -> dict:
    """The member who pressed Retry, as an entry's actor."""
    return {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject}


def _retried(
    caller: Caller,
    original: Entry,
    publisher: Publisher,
    action_id: str,
    chain: str,
    metadata: dict,
    traceparent: Optional[str],
) -> dict:
    """The caller's "Retried …" entry in ``chain`` (and the retry's trace), drafted for the bus (a new run's, or a
    press joining one)."""
    activity = ActivityClient(
        caller.org, actor=_presser(caller), publisher=publisher, producer="retry", traceparent=traceparent
    )
    return activity.draft(
        type="USER_ACTION",
        action="retried",
        event=f"Retried {original.event}"[:300],
        entity=original.entity,
        correlation_id=chain,
        retry_of=original.id,
        metadata=metadata,
        entry_id=action_id,
    )
