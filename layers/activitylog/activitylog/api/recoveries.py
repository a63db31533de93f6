"""POST /recoveries/{provider}: an org's admins recover the provider events its log missed
(``activitylog.webhooks.recovery``): a preview, then the missing ones recorded."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from activitylog.api.common import caller
from activitylog.responses import responses
from activitylog.scopes import ROUTE_SCOPES
from activitylog.webhooks.recovery import ROUTE
from activitylog.wiring import container


def routes() -> Router:
    """A router with the recovery route (a new one per resolver)."""
    router = Router()

    @router.post(
        "/recoveries/<provider>",
        summary="Recover a provider's events the log missed in a window (preview, then record)",
        description="Body {from, to, preview}. Stripe: its events whose delivery failed, 30 days back; Square: its "
        "events, 28 days back, compared with the log; FedEx: not available (its own queue re-sends them for 7 days). "
        "Each event is recorded once however often it is recovered or delivered.",
        responses=responses(
            {200: ("The window's counts, and what was recorded", "WebhookRecovery")}, 400, 401, 403, 404, 413, 415, 503
        ),
    )
    def recover_webhooks(provider: str):
        event = router.current_event
        who = caller(event)
        who.require(ROUTE_SCOPES[ROUTE])  # before the keys' client is built: a 403 touches nothing
        return container().recovery.run(who, provider, event.json_body)

    return router
