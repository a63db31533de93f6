"""GET and PUT /settings/retention: an org's retention policy, for its admins (``activity:admin``); and
GET and PUT /settings/privacy: its masked fields (``privacy.settings``)."""

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

    @router.get(
        "/settings/privacy",
        summary="The organization's masked fields: its own patterns and the built-in ones",
        responses=responses({200: ("The masked fields", "PrivacySettings")}, 401, 403, 503),
    )
    def get_privacy():
        from activitylog.privacy.settings import PrivacySettings

        return PrivacySettings(service()).get(caller(router.current_event))

    @router.put(
        "/settings/privacy",
        summary="Set the fields masked in new entries (recorded as a SYSTEM_EVENT)",
        responses=responses(
            {200: ("The masked fields as changed", "PrivacySettings")}, 400, 401, 403, 409, 413, 415, 503
        ),
    )
    def put_privacy():
        from activitylog.privacy.settings import PrivacySettings

        event = router.current_event
        return PrivacySettings(service()).change(caller(event), event.json_body if event.body else None)

    return router
