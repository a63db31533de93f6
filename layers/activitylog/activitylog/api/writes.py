"""POST /activities, POST /activities/batch, PATCH /activities/{id}.

A write's body is checked and parsed strictly (``activitylog.requestbody``) before
Powertools sees it: bytes, media type, UTF-8, one JSON object, finite numbers, depth.
Then Powertools validates it with the ``inputs`` models, and ``Idempotency-Key`` makes
a retried write happen once (``activitylog.idempotency``: Powertools answers a repeat, and
the key decides the entry ids and the update's marker beneath it).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Callable, Optional, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from activitylog.api.common import answer_validation_errors, caller, idempotency, service
from activitylog.idempotency import WriteKey, run_once
from activitylog.inputs import EntryUpdate, NewEntry
from activitylog.observability import metrics
from activitylog.requestbody import body_text
from activitylog.responses import responses
from activitylog.service import Caller
from activitylog.tracecontext import from_headers
from activitylog.views import detail_view

MAX_BODY_BYTES = 1024 * 1024  # one entry
MAX_BATCH_BODY_BYTES = 5 * 1024 * 1024  # a batch of 100; below Lambda's 6 MB payload limit
REFUSALS = (400, 401, 403, 409, 413, 415, 503)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # as a single entry: an unknown key is refused, not ignored

    entries: list[dict[str, Any]] = Field(description="up to 100 entries, each like POST /activities")


def _idempotency_key() -> Header:
    return Header(
        alias="Idempotency-Key",
        description="send the same key (and body) when retrying: the write happens once; "
        "a 409 saying it is still running: send the same request again after Retry-After seconds",
    )


def routes() -> Router:
    """A router with the write routes (a new one per resolver: a router serves one app)."""
    router = Router()

    def once(
        who: Caller, route: str, key: Optional[str], body: Any, operation: Callable[[Optional[WriteKey]], dict]
    ) -> dict:
        """Run a write once per Idempotency-Key; without a key, just run it. The operation is given the
        key too: it decides the write itself, should Powertools' record of it be lost."""
        if key is None:
            return operation(None)
        write_key = WriteKey(route, key, body)
        return run_once(
            who.org, route, key, body, router.lambda_context, lambda: operation(write_key), persistence=idempotency
        )

    @router.post(
        "/activities",
        summary="Record one entry",
        enable_validation=True,
        responses=responses(
            {201: ("Recorded (or, for a retried Idempotency-Key, recorded before)", "EntryDetail")}, *REFUSALS
        ),
    )
    def record_activity(entry: Annotated[NewEntry, Body()], key: Annotated[Optional[str], _idempotency_key()] = None):
        who = caller(router.current_event)
        body = entry.model_dump(mode="json")  # what the key's hash covers: a retry under a new span is the same write
        traced = _traced(entry, router.current_event.headers)
        recorded = once(
            who,
            "POST /activities",
            key,
            body,
            # kept for retries as stored (sealed), shown opened: the kept answer holds no personal field in clear
            lambda write_key: detail_view(service().as_stored(who.org, service().record(who, traced, key=write_key))),
        )
        recorded = service().shown_document(who.org, recorded)
        metrics.add_metric(name="EntriesWritten", unit=MetricUnit.Count, value=1)
        return Response(201, "application/json", json.dumps(recorded))

    @router.post(
        "/activities/batch",
        summary="Record up to 100 entries; invalid ones are reported, valid ones written together",
        enable_validation=True,
        responses=responses(
            {
                200: ("Every entry recorded", "BatchResult"),
                207: ("Some entries rejected (see results); the valid ones recorded", "BatchResult"),
            },
            *REFUSALS,
        ),
    )
    def record_activities(
        batch: Annotated[BatchRequest, Body()], key: Annotated[Optional[str], _idempotency_key()] = None
    ):
        who = caller(router.current_event)
        result = once(
            who,
            "POST /activities/batch",
            key,
            batch.entries,
            lambda write_key: service().record_batch(
                who, _traced_documents(batch.entries, router.current_event.headers), key=write_key
            ),
        )
        metrics.add_metric(name="EntriesWritten", unit=MetricUnit.Count, value=result["accepted"])
        return Response(200 if not result["rejected"] else 207, "application/json", json.dumps(result))

    @router.patch(
        "/activities/<id>",
        summary="Job progress and completion",
        enable_validation=True,
        responses=responses({200: ("The entry as updated", "EntryDetail")}, *REFUSALS, 404),
    )
    def update_activity(
        id: str,
        update: Annotated[EntryUpdate, Body()],  # noqa: A002
        key: Annotated[Optional[str], _idempotency_key()] = None,
    ):
        who = caller(router.current_event)
        # The key is scoped to this entry: the same key on another entry is another update.
        updated = once(
            who,
            f"PATCH /activities/{id}",
            key,
            update.model_dump(mode="json"),
            lambda write_key: detail_view(
                service().as_stored(
                    who.org, service().update(who, id, _traced(update, router.current_event.headers), key=write_key)
                )
            ),
        )
        updated = service().shown_document(who.org, updated)
        metrics.add_metric(name="EntriesUpdated", unit=MetricUnit.Count, value=1)
        return updated

    answer_validation_errors(router, body_parameters=("entry", "batch", "update"))
    return router


Traced = TypeVar("Traced", NewEntry, EntryUpdate)


def _traced(body: Traced, headers: Any) -> Traced:
    """The write with the ``traceparent`` header's trace, unless its body names one (an invalid header: none)."""
    trace = from_headers(headers)
    if trace is None or body.trace_id is not None:
        return body
    return body.model_copy(update={"trace_id": trace[0], "span_id": trace[1]})


def _traced_documents(documents: list[dict[str, Any]], headers: Any) -> list[dict[str, Any]]:
    """A batch's entries, each given the header's trace unless it names one (a document that is no object is
    left for the batch to reject)."""
    trace = from_headers(headers)
    if trace is None:
        return documents
    return [
        {**document, "trace_id": trace[0], "span_id": trace[1]}
        if isinstance(document, dict) and "trace_id" not in document and "span_id" not in document
        else document
        for document in documents
    ]


def checked(event: dict) -> dict:
    """The event with its body as checked UTF-8 text, so Powertools never decodes bytes itself.

    The content type is normalised once it has been checked (``APPLICATION/JSON`` is JSON),
    and set when there is no body, so Powertools always reads the body as JSON. Raises an
    ``ActivityLogError`` (400, 413, 415) naming the field.
    """
    if (event.get("requestContext") or {}).get("http", {}).get("method") == "GET":
        return event  # a read: no body to check (the settings function serves both)
    limit = MAX_BATCH_BODY_BYTES if event.get("rawPath", "").endswith("/batch") else MAX_BODY_BYTES
    text = body_text(event, limit)
    headers = {name: value for name, value in (event.get("headers") or {}).items() if name.lower() != "content-type"}
    return {**event, "body": text, "isBase64Encoded": False, "headers": {**headers, "content-type": "application/json"}}
