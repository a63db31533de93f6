"""GET /activities, GET /activities/{id} and its chain (/related), GET /members, GET /catalog: the dashboard's hot path, with no
pydantic.

They parse their own parameters (``activitylog.query.filters``), so a reader's cold start
does not pay for validation models.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.api.common import caller, service
from activitylog.observability import metrics
from activitylog.query.filters import parse_catalog_request, parse_list_request, parse_member_search
from activitylog.responses import responses
from activitylog.support import access
from activitylog.views import detail_view


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
        parameters, who = router.current_event.query_string_parameters or {}, caller(router.current_event)
        request = parse_list_request(parameters)
        reason = access.support_reason(who, parameters)  # support says why; the org's own readers are not asked
        result = service().list(who, request)
        if reason:  # recorded before it is answered (paging the same filter: once a minute)
            access.record_list(service(), who, "GET /activities", request.filter, reason)
        metrics.add_metric(name="ReadAmplification", unit=MetricUnit.Count, value=result.page.read_amplification)
        metrics.add_metric(name="EntriesListed", unit=MetricUnit.Count, value=len(result.items))
        return result.to_dict()

    @router.get(
        "/activities/<id>",
        summary="One whole entry: actor, entity, changes, metadata, error",
        responses=responses({200: ("The entry", "EntryDetail")}, 400, 401, 403, 404, 503),
    )
    def get_activity(id: str):  # noqa: A002 - the route's own name
        who = caller(router.current_event)
        reason = access.support_reason(who, router.current_event.query_string_parameters)
        entry = service().get(who, id)
        if reason:
            access.record_read(service(), who, "GET /activities/{id}", id, reason)
        metrics.add_metric(name="EntriesRead", unit=MetricUnit.Count, value=1)
        return detail_view(entry)

    @router.get(
        "/activities/<id>/related",
        summary="The chain an entry belongs to, oldest first: the user action, its jobs, their webhooks and retries",
        responses=responses({200: ("The chain", "RelatedChain")}, 400, 401, 403, 404, 503),
    )
    def related_activities(id: str):  # noqa: A002 - the route's own name
        who = caller(router.current_event)
        reason = access.support_reason(who, router.current_event.query_string_parameters)
        chain = service().related(who, id)
        if reason:
            access.record_read(service(), who, "GET /activities/{id}/related", id, reason)
        return chain

    @router.get(
        "/members",
        summary="The org's team members its log has seen, found by part of their name or id (the User filter)",
        responses=responses(
            {200: ("The members found, exact id first, then by name", "MemberList")}, 400, 401, 403, 503
        ),
    )
    def list_members():
        parameters, who = router.current_event.query_string_parameters or {}, caller(router.current_event)
        search, limit = parse_member_search(parameters)
        reason = access.support_reason(who, parameters)
        members = service().members(who, search, limit)
        if reason:  # the org's people by name: a read of its data like the list's
            access.record_members(service(), who, search, reason)
        return {"items": members}

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
