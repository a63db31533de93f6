"""GET /activities, GET /activities/{id} and its chain (/related), GET /members, GET /catalog: the dashboard's hot path, with no
pydantic.

They parse their own parameters (``activitylog.query.filters``), so a reader's cold start
does not pay for validation models.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.api.common import caller, service
from activitylog.api.views import detail_view
from activitylog.observability import metrics
from activitylog.query.filters import parse_catalog_request, parse_list_request, parse_member_search
from activitylog.responses import responses


def routes() -> Router:
    """A router with the read routes (a new one per resolver: a router serves one app)."""
    router = Router()

    @router.get(
        "/activities",
        summary="List entries, newest first, filtered by any combination of axes",
        responses=responses({200: ("One page, newest first", "ListPage")}, 400, 401, 403, 503),
    )
    def list_activities():
        # The raw parameters, so unknown ones are refused by name rather than ignored.
        request = parse_list_request(router.current_event.query_string_parameters or {})
        result = service().list(caller(router.current_event), request)
        metrics.add_metric(name="ReadAmplification", unit=MetricUnit.Count, value=result.page.read_amplification)
        metrics.add_metric(name="EntriesListed", unit=MetricUnit.Count, value=len(result.items))
        return result.to_dict()

    @router.get(
        "/activities/<id>",
        summary="One whole entry: actor, entity, changes, metadata, error",
        responses=responses({200: ("The entry", "EntryDetail")}, 400, 401, 403, 404, 503),
    )
    def get_activity(id: str):  # noqa: A002 - the route's own name
        entry = service().get(caller(router.current_event), id)
        metrics.add_metric(name="EntriesRead", unit=MetricUnit.Count, value=1)
        return detail_view(entry)

    @router.get(
        "/activities/<id>/related",
        summary="The chain an entry belongs to, oldest first: the user action, its jobs, their webhooks and retries",
        responses=responses({200: ("The chain", "RelatedChain")}, 400, 401, 403, 404, 503),
    )
    def related_activities(id: str):  # noqa: A002 - the route's own name
        return service().related(caller(router.current_event), id)

    @router.get(
        "/members",
        summary="The org's team members its log has seen, found by part of their name or id (the User filter)",
        responses=responses(
            {200: ("The members found, exact id first, then by name", "MemberList")}, 400, 401, 403, 503
        ),
    )
    def list_members():
        search, limit = parse_member_search(router.current_event.query_string_parameters or {})
        return {"items": service().members(caller(router.current_event), search, limit)}

    @router.get(
        "/catalog",
        summary="The org's vocabulary: types, statuses, entity types, the actions and webhook events seen, job types",
        responses=responses(
            {200: ("The org's vocabulary, each action and event with its count", "Catalog")}, 400, 401, 403, 503
        ),
    )
    def catalog():
        only = parse_catalog_request(router.current_event.query_string_parameters or {})
        return service().catalog(caller(router.current_event), only)

    return router
