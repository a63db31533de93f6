"""``/alerts``: an org member's saved filters, told by email or an HTTPS webhook when new entries match.

The bodies are checked by the domain (``activitylog.alerts.settings``), each bad value a 400 naming its field
(``filter.status``, ``destination.url``, ...); another org's alert, or to a reader another member's, is a 404.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from activitylog.api.common import caller
from activitylog.responses import responses
from activitylog.wiring import container

_WRITES = (400, 401, 403, 409, 413, 415, 503)


def _body(router: Router) -> Any:
    return router.current_event.json_body if router.current_event.body else {}


def routes() -> Router:
    """A router with the alerts' routes (a new one per resolver: a router serves one app)."""
    router = Router()

    def alerts():
        return container().alert_settings

    @router.post(
        "/alerts",
        summary="Save a filter as an alert (recorded as a SYSTEM_EVENT)",
        responses=responses({201: ("The alert (made without a secret: its signing_secret, once)", "Alert")}, *_WRITES),
    )
    def create_alert():
        return alerts().create(caller(router.current_event), _body(router)), 201

    @router.get(
        "/alerts",
        summary="Your alerts (an admin: everyone's in the organization)",
        responses=responses({200: ("The alerts", "AlertList")}, 401, 403, 503),
    )
    def list_alerts():
        return alerts().list(caller(router.current_event))

    @router.get(
        "/alerts/<id>",
        summary="One alert: its filter, destination and what waits to be told",
        responses=responses({200: ("The alert", "Alert")}, 401, 403, 404, 503),
    )
    def get_alert(id: str):  # noqa: A002 - the path parameter's name
        return alerts().get(caller(router.current_event), id)

    @router.patch(
        "/alerts/<id>",
        summary="Change your alert's name, filter, destination or secret",
        responses=responses({200: ("The alert as changed", "Alert")}, *_WRITES, 404),
    )
    def change_alert(id: str):  # noqa: A002 - the path parameter's name
        return alerts().change(caller(router.current_event), id, _body(router))

    @router.delete(
        "/alerts/<id>",
        summary="Delete an alert (yours; an admin: any)",
        responses=responses({200: ("Deleted", "AlertDeleted")}, *_WRITES, 404),
    )
    def delete_alert(id: str):  # noqa: A002 - the path parameter's name
        return alerts().delete(caller(router.current_event), id)

    @router.post(
        "/alerts/<id>/pause",
        summary="Send nothing until resumed (what matches meanwhile is not told later)",
        responses=responses({200: ("The alert", "Alert")}, *_WRITES, 404),
    )
    def pause_alert(id: str):  # noqa: A002 - the path parameter's name
        return alerts().pause(caller(router.current_event), id)

    @router.post(
        "/alerts/<id>/resume",
        summary="Tell new matching entries again",
        responses=responses({200: ("The alert", "Alert")}, *_WRITES, 404),
    )
    def resume_alert(id: str):  # noqa: A002 - the path parameter's name
        return alerts().resume(caller(router.current_event), id)

    return router
