"""``/settings/streams``: an org's streams to its own SIEM or bucket, for its admins (``activity:admin``).

The bodies are checked by the domain (``activitylog.streams.settings``), each bad value a 400 naming its field
(``destination.url``, ``filter.status``, ...); another org's stream id is a 404.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from activitylog.api.common import caller
from activitylog.responses import responses
from activitylog.wiring import container

# What any route with a body may answer besides its own: the body is checked before routing (400, 413, 415), a
# change made meanwhile is a 409, DynamoDB not answering a 503.
_WRITES = (400, 401, 403, 409, 413, 415, 503)


def _body(router: Router) -> Any:
    return router.current_event.json_body if router.current_event.body else {}


def routes() -> Router:
    """A router with the streams' routes (a new one per resolver: a router serves one app)."""
    router = Router()

    def settings():
        return container().stream_settings

    @router.post(
        "/settings/streams",
        summary="Create a stream (recorded as a SYSTEM_EVENT)",
        responses=responses({201: ("The stream", "Stream")}, *_WRITES),
    )
    def create():
        return settings().create(caller(router.current_event), _body(router)), 201

    @router.get(
        "/settings/streams",
        summary="The organization's streams, with their delivery state",
        responses=responses({200: ("The streams", "StreamList")}, 401, 403, 503),
    )
    def list_streams():
        return settings().list(caller(router.current_event))

    @router.get(
        "/settings/streams/<id>",
        summary="One stream: its settings, lag, last delivery and last error",
        responses=responses({200: ("The stream", "Stream")}, 401, 403, 404, 503),
    )
    def get_stream(id: str):  # noqa: A002 - the path parameter's name
        return settings().get(caller(router.current_event), id)

    @router.patch(
        "/settings/streams/<id>",
        summary="Change a stream's name, filter, format, destination or secret",
        responses=responses({200: ("The stream as changed", "Stream")}, *_WRITES, 404),
    )
    def change_stream(id: str):  # noqa: A002 - the path parameter's name
        return settings().change(caller(router.current_event), id, _body(router))

    @router.delete(
        "/settings/streams/<id>",
        summary="Delete a stream (its waiting entries are dropped)",
        responses=responses({200: ("Deleted", "StreamDeleted")}, *_WRITES, 404),
    )
    def delete_stream(id: str):  # noqa: A002 - the path parameter's name
        return settings().delete(caller(router.current_event), id)

    @router.post(
        "/settings/streams/<id>/pause",
        summary="Stop delivering; entries keep waiting (30 days)",
        responses=responses({200: ("The stream", "Stream")}, *_WRITES, 404),
    )
    def pause_stream(id: str):  # noqa: A002 - the path parameter's name
        return settings().pause(caller(router.current_event), id)

    @router.post(
        "/settings/streams/<id>/resume",
        summary="Deliver again, what waited first, in order",
        responses=responses({200: ("The stream", "Stream")}, *_WRITES, 404),
    )
    def resume_stream(id: str):  # noqa: A002 - the path parameter's name
        return settings().resume(caller(router.current_event), id)

    @router.post(
        "/settings/streams/<id>/test",
        summary="Send a sample entry now; answers what the endpoint said",
        responses=responses({200: ("What the destination answered", "StreamTest")}, *_WRITES, 404),
    )
    def test_stream(id: str):  # noqa: A002 - the path parameter's name
        return settings().test(caller(router.current_event), id)

    @router.post(
        "/settings/streams/<id>/backfill",
        summary="Send the last N days' entries again, in the stream's filter",
        responses=responses({202: ("The stream, its backfill started", "Stream")}, *_WRITES, 404),
    )
    def backfill_stream(id: str):  # noqa: A002 - the path parameter's name
        return settings().backfill(caller(router.current_event), id, _body(router)), 202

    return router
