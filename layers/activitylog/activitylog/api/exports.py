"""POST /exports, GET /exports/{id}, GET /exports/{id}/download: CSV exports (``activitylog.exports``).

``POST /exports`` answers a small export as the CSV itself (200 ``text/csv``) and a large one
with 202 and the export, whose state machine emails the link. Its body is checked strictly
(``writes.checked``) and validated by Powertools; the filter values go through
``GET /activities``' own parser. The download route has no authorizer (an emailed link
carries no bearer token): the link's signed token is checked instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Optional, Union, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from activitylog.api.common import answer_validation_errors, caller, exports
from activitylog.entry import EntryType, Status
from activitylog.exports.service import SmallExport
from activitylog.observability import metrics
from activitylog.query.filters import PARAMETERS
from activitylog.responses import responses
from activitylog.support.access import REASON_CHARACTERS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

Values = Optional[Union[list[str], str]]


class ExportFilters(BaseModel):
    """The list's filter axes, as ``GET /activities`` takes them (type and status as lists)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Values = Field(default=None, description=f"a list of {', '.join(t.value for t in EntryType)}")
    status: Values = Field(default=None, description=f"a list of {', '.join(s.value for s in Status)}")
    user: Optional[str] = Field(default=None, description=PARAMETERS["user"])
    entity_type: Optional[str] = Field(default=None, description=PARAMETERS["entity_type"])
    entity_id: Optional[str] = Field(default=None, description=PARAMETERS["entity_id"])
    date_from: Optional[str] = Field(default=None, alias="from", description=PARAMETERS["from"])
    date_to: Optional[str] = Field(default=None, alias="to", description=PARAMETERS["to"])


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: ExportFilters = Field(default_factory=ExportFilters, description="the dashboard's current filter set")


def _csv_answer() -> OpenAPIResponse:
    return {
        "description": "At most EXPORT_INLINE_ROWS rows (and EXPORT_INLINE_BYTES bytes): the CSV itself",
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {
            "X-Export-Id": {"description": "the export's id (its activity entry)", "schema": {"type": "string"}}
        },
    }


def _redirect() -> OpenAPIResponse:
    return {
        "description": "To a presigned URL of the file, valid for 5 minutes",
        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
    }


def routes() -> Router:
    """A router with the export routes (a new one per resolver: a router serves one app)."""
    router = Router()

    @router.post(
        "/exports",
        summary="Export the entries a filter set selects, as CSV",
        enable_validation=True,
        responses={
            **responses(
                {202: ("Larger: running in the background; the link is emailed", "Export")},
                400,
                401,
                403,
                413,
                415,
                503,
            ),
            200: _csv_answer(),
        },
    )
    def request_export(
        request: Annotated[ExportRequest, Body()],
        reason: Annotated[
            Optional[str],
            Query(
                description="support's reason (a ticket, a case), required of a token with activity:support and "
                "without activity:read: recorded with the export in the org's log",
                max_length=REASON_CHARACTERS,
            ),
        ] = None,
    ):
        answer = exports().request(
            caller(router.current_event),
            request.filters.model_dump(by_alias=True, exclude_none=True),
            {"reason": reason} if reason is not None else None,
        )
        metrics.add_metric(name="ExportsRequested", unit=MetricUnit.Count, value=1)
        if isinstance(answer, SmallExport):
            return Response(
                200,
                "text/csv; charset=utf-8",
                answer.body.decode("utf-8"),
                headers={
                    "Content-Disposition": f'attachment; filename="{answer.filename}"',
                    "X-Export-Id": answer.export.id,
                },
            )
        return Response(
            202,
            "application/json",
            json.dumps(answer.export.view()),
            headers={"Location": f"/exports/{answer.export.id}"},
        )

    @router.get(
        "/exports/<id>",
        summary="An export's progress: rows so far, size, and the download link when ready",
        responses=responses({200: ("The export", "Export")}, 400, 401, 403, 404, 410, 503),
    )
    def export_status(id: str):  # noqa: A002 - the route's own name
        event = cast("APIGatewayProxyEventV2", router.current_event)  # the HTTP API's resolver
        base = f"{event.headers.get('x-forwarded-proto', 'https')}://{event.request_context.domain_name}"
        return exports().status(caller(event), id, base)

    @router.get(
        "/exports/<id>/download",
        summary="Download an export's file (the emailed link)",
        enable_validation=True,
        responses={**responses({}, 400, 404, 410, 503), 302: _redirect()},
    )
    def download_export(id: str, token: Annotated[Optional[str], Query(description="the link's signed token")] = None):  # noqa: A002
        url = exports().download(id, token)
        metrics.add_metric(name="ExportsDownloaded", unit=MetricUnit.Count, value=1)
        return Response(302, "text/plain", "", headers={"Location": url, "Cache-Control": "no-store"})

    answer_validation_errors(router, body_parameters=("request",))
    return router
