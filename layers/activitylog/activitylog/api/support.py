"""GET /support/activities/{id}: an entry by id for support staff, from the hot table or the archive."""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activitylog.api.common import caller, service
from activitylog.observability import metrics
from activitylog.responses import responses


def routes() -> Router:
    """A router with the support route (a new one per resolver: a router serves one app)."""
    router = Router()

    @router.get("/support/activities/<id>", summary="One entry by id, from the hot table or, once expired, the archive",
                responses=responses({200: ("The entry and where it was found", "SupportEntry")}, 400, 401, 403, 404, 503))
    def support_activity(id: str):  # noqa: A002 - the route's own name
        from activitylog.support.lookup import SupportLookup

        found = SupportLookup(service(), _archive(service().config.archive_bucket)).get(caller(router.current_event), id)
        metrics.add_metric(name="SupportLookups", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="SupportLookupsFromArchive", unit=MetricUnit.Count, value=int(found["found_in"] == "archive"))
        return found

    return router


@lru_cache(maxsize=4)
def _archive(bucket: Optional[str]):
    """The archive bucket's reader, one per environment (its S3 client is built once)."""
    from activitylog.archive.store import ArchiveStore

    return ArchiveStore(bucket) if bucket else None
