"""GET /support/activities/{id}: an entry by id for support staff, from the hot table or the archive; its proof;
and POST /support/archive-queries, the record of a query of the archive, written before the query runs."""

from __future__ import annotations

from typing import Annotated, Optional

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from activitylog.api.common import answer_validation_errors, caller, service
from activitylog.api.exports import ExportFilters
from activitylog.observability import metrics
from activitylog.responses import responses
from activitylog.wiring import container


class ArchiveQuery(BaseModel):
    """What support is about to ask of an org's archive, and why."""

    model_config = ConfigDict(extra="forbid")

    filters: ExportFilters = Field(
        default_factory=ExportFilters, description="the query's window (from, to) and filters, as GET /activities'"
    )
    reason: Optional[str] = Field(
        default=None, description="why support queries (a ticket, a case), 1-200 characters: required, recorded"
    )


def routes() -> Router:
    """A router with the support route (a new one per resolver: a router serves one app)."""
    router = Router()

    @router.get(
        "/support/activities/<id>",
        summary="One entry by id, from the hot table or, once expired, the archive; the read is first recorded in "
        "the org's log with its reason (a 503, showing nothing, if it cannot be)",
        responses=responses({200: ("The entry and where it was found", "SupportEntry")}, 400, 401, 403, 404, 503),
    )
    def support_activity(id: str):  # noqa: A002 - the route's own name
        from activitylog.support.lookup import SupportLookup
        from activitylog.views import detail_view

        event = router.current_event
        who = caller(event)
        found = SupportLookup(service(), container().archive_or_none, detail_view).get(
            who, id, event.query_string_parameters
        )
        found = service().shown_document(who.org, found)  # every version, hot or archived: opened, or [erased]
        metrics.add_metric(name="SupportLookups", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="SupportLookupsFromArchive", unit=MetricUnit.Count, value=int(found["found_in"] == "archive")
        )
        return found

    @router.get(
        "/support/activities/<id>/proof",
        summary="One entry's proof: its archived versions, their Merkle inclusion paths, the signed checkpoint "
        "and the public key, checkable offline (README 'Checking a proof offline'); recorded in the org's log first",
        responses=responses({200: ("The proof bundle, canonical JSON", "ProofBundle")}, 400, 401, 403, 404, 409, 503),
    )
    def support_activity_proof(id: str):  # noqa: A002 - the route's own name
        from activitylog.support.lookup import proof

        wired, event = container(), router.current_event
        body = proof(
            service(),
            caller(event),
            id,
            event.query_string_parameters,
            wired.archive_or_none,
            wired.digest_archive_or_none,
            wired.public_keys,
        )
        metrics.add_metric(name="SupportProofs", unit=MetricUnit.Count, value=1)
        return Response(status_code=200, content_type="application/json", body=body.decode())

    @router.post(
        "/support/archive-queries",
        summary="Record in the token's org that support queries its archive (window, filters, reason), before the "
        "query runs: `activitylog archive query` reads the buckets only once this answered",
        enable_validation=True,
        responses=responses(
            {201: ("The record, and the org it is in", "ArchiveQueryRecord")}, 400, 401, 403, 413, 415, 503
        ),
    )
    def archive_query(request: Annotated[ArchiveQuery, Body()]):
        import json

        from activitylog.support.access import record_archive_query

        recorded = record_archive_query(
            service(),
            caller(router.current_event),
            request.filters.model_dump(by_alias=True, exclude_none=True),
            request.reason,
        )
        metrics.add_metric(name="SupportArchiveQueries", unit=MetricUnit.Count, value=1)
        return Response(201, "application/json", json.dumps(recorded))

    answer_validation_errors(router, body_parameters=("request",))
    return router
