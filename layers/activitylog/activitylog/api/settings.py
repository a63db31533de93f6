"""GET and PUT /settings/retention: an org's retention policy, for its admins (``activity:admin``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from activitylog.api.common import answer_validation_errors, caller, service
from activitylog.inputs import RetentionChange
from activitylog.responses import responses
from activitylog.retention.settings import RetentionSettings


def routes() -> Router:
    """A router with the settings routes (a new one per resolver: a router serves one app)."""
    router = Router()

    @router.get(
        "/settings/retention",
        summary="The organization's retention policy, and how far its last change has been applied",
        responses=responses({200: ("The policy", "RetentionPolicy")}, 401, 403, 503),
    )
    def get_retention():
        return RetentionSettings(service()).get(caller(router.current_event)).to_dict()

    @router.put(
        "/settings/retention",
        summary="Change how long entries stay hot and archived (recorded as a SYSTEM_EVENT)",
        enable_validation=True,
        responses=responses({200: ("The policy as changed", "RetentionPolicy")}, 400, 401, 403, 409, 413, 415, 503),
    )
    def put_retention(change: Annotated[RetentionChange, Body()]):
        return RetentionSettings(service()).change(caller(router.current_event), change).to_dict()

    answer_validation_errors(router, body_parameters=("change",))

    return router
