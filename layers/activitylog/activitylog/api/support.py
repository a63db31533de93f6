"""GET /support/activities/{id}: an entry by id for support staff, from the hot table or the archive."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.api.common import caller, service
from activitylog.observability import metrics
from activitylog.responses import responses
from activitylog.wiring import container


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
        from activitylog.api.views import detail_view
        from activitylog.support.lookup import SupportLookup

        event = router.current_event
        found = SupportLookup(service(), container().archive_or_none, detail_view).get(
            caller(event), id, event.query_string_parameters
        )
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
        from aws_lambda_powertools.event_handler import Response

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

    return router
