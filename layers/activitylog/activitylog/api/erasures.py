"""POST /privacy/erasures: an org's admins erase a data subject's personal data (``activitylog.privacy.erasure``)."""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from activitylog.api.common import answer_validation_errors, caller, service
from activitylog.inputs import ErasureRequest
from activitylog.responses import responses


def routes() -> Router:
    """A router with the erasure route (a new one per resolver: a router serves one app)."""
    router = Router()

    @router.post(
        "/privacy/erasures",
        summary="Erase a team member's or a contact's personal data: their key is destroyed, every copy shows "
        "[erased] (recorded as a SYSTEM_EVENT)",
        enable_validation=True,
        responses=responses({201: ("The erasure as recorded", "Erasure")}, 400, 401, 403, 409, 413, 415, 503),
    )
    def erase(request: Annotated[ErasureRequest, Body()]):
        from activitylog.privacy.erasure import Erasures

        recorded = Erasures(service()).erase(caller(router.current_event), request)
        return Response(201, "application/json", json.dumps(recorded))

    answer_validation_errors(router, body_parameters=("request",))
    return router
