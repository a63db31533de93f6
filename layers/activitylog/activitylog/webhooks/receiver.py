"""POST /webhooks/{provider}/{org_id}: verify the signature, enqueue, answer 200. Nothing else.

No JWT: a delivery is authentic when the provider's signature verifies with that org's secret
(``secrets``). Acknowledging fast matters (providers time out and retry), so the receiver
writes no WEBHOOK entry itself: it puts the delivery on the webhook queue and answers; the
ingest function records it. What it queues is redacted already (``redaction``): the raw body
is kept only for the signature check, named afterwards by its size and SHA-256.

- unknown provider, or an org without a secret for it: 404 naming ``provider`` or ``org_id``
- a missing or bad signature, a stale Stripe timestamp, a body that is no event: 400 with a
  short reason, no WEBHOOK entry; the refusal is recorded as a SYSTEM_EVENT WARNING, at most
  ``REJECTIONS_PER_MINUTE`` per org, provider and minute (a counter with a conditional write), so a
  flood of forgeries cannot fill the table; the rest are counted and summarized (``rejections``)
- SSM or SQS not answering: 503, and the provider delivers again later

``container().receiver.receive(provider, org, body, headers, url, source_ip)`` answers
``{'received': True, 'event_id': …}`` once the event is verified and queued.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, cast

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from activitylog import entry
from activitylog.errors import BadRequest, NotFound, PayloadTooLarge
from activitylog.observability import logger, metrics
from activitylog.redaction import redact_headers, scrub_url
from activitylog.responses import responses
from activitylog.service import ActivityService
from activitylog.webhooks.mapping import redacted_request
from activitylog.webhooks.providers import PROVIDERS, SIGNATURE_HEADERS, Delivery, Provider, Rejected
from activitylog.webhooks.queue import WebhookQueue, message_for
from activitylog.webhooks.rejections import REJECTIONS_PER_MINUTE, quota
from activitylog.webhooks.secrets import SigningSecrets

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

MAX_BODY_BYTES = 5 * 1024 * 1024  # far above any provider's events; below Lambda's 6 MB payload
ORG_ID = re.compile(entry.ORG_ID)  # the API's own org ids (one path segment)


@dataclass
class Receiver:
    service: ActivityService
    secrets: SigningSecrets
    queue: WebhookQueue
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def receive(
        self, provider_name: str, org: str, body: bytes, headers: dict[str, str], url: str, source_ip: str
    ) -> dict:
        provider = PROVIDERS.get(provider_name)
        if provider is None:
            raise NotFound(f"no webhook provider {provider_name!r}: one of {', '.join(PROVIDERS)}", "provider")
        if not ORG_ID.fullmatch(org):
            raise NotFound("no such organization", "org_id")
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}", "body")
        secret = self.secrets.get(org, provider.name)
        if secret is None:
            metrics.add_metric(name="WebhooksForUnknownEndpoints", unit=MetricUnit.Count, value=1)
            raise NotFound(f"no {provider.display} webhook is set up for organization {org}", "org_id")
        delivery = Delivery(provider.name, org, body, headers, url)
        try:
            self._verify(provider, delivery, secret)
            _, identity = provider.identity(body)
        except Rejected as rejected:
            metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
            self._record_rejection(provider, delivery, rejected, source_ip)
            raise BadRequest(rejected.reason, rejected.field) from None
        received = self.clock().isoformat(timespec="milliseconds")
        # Redacted now that the signature is verified: the raw body is not queued, dead-lettered or offloaded.
        request = redacted_request(headers, body, url)
        offloaded = self.queue.enqueue(message_for(provider.name, org, identity, received, request))
        metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
        if offloaded:
            metrics.add_metric(name="WebhookBodiesOffloaded", unit=MetricUnit.Count, value=1)
        return {"received": True, "event_id": identity.event_id}

    def _verify(self, provider: Provider, delivery: Delivery, secret: str) -> None:
        try:
            provider.verify(delivery, secret)
        except Rejected as rejected:
            # The secret may have been rotated since this container read it: read it again (rate-limited).
            fresh = (
                self.secrets.get(delivery.org, provider.name, refresh=True)
                if rejected.reason == "signature does not match"
                else None
            )
            if fresh is None or fresh == secret:
                raise
            provider.verify(delivery, fresh)

    def _record_rejection(self, provider: Provider, delivery: Delivery, rejected: Rejected, source_ip: str) -> None:
        """The refusal as a SYSTEM_EVENT WARNING: what, from where, never the body (it proves nothing)."""
        from activitylog.inputs import NewEntry

        document = {
            "type": "SYSTEM_EVENT",
            "status": "WARNING",
            "action": "webhook_rejected",
            "actor": {"kind": "system", "id": "system", "name": "system"},
            "event": f"Webhook rejected · {provider.display}: {rejected.reason}"[:300],
            "entity": {"type": "integration", "id": provider.name, "label": provider.display},
            "metadata": {
                "webhook": {
                    "direction": "incoming",
                    "provider": provider.name,
                    "reason": rejected.reason,
                    "field": rejected.field,
                    "source_ip": source_ip,
                    "request": {
                        "method": "POST",
                        "url": scrub_url(delivery.url),
                        "headers": redact_headers(delivery.headers, SIGNATURE_HEADERS),
                        "body_bytes": len(delivery.body),
                        "body_sha256": hashlib.sha256(delivery.body).hexdigest(),
                    },
                }
            },
        }
        try:
            recorded = self.service.record_within_quota(
                delivery.org,
                NewEntry.model_validate(document),
                f"webhooks:{provider.name}",
                quota=quota(provider.name),
                limit=REJECTIONS_PER_MINUTE,
            )
        except Exception:  # noqa: BLE001 - the answer is the 400 either way; say why the entry is missing
            logger.exception(
                "could not record a webhook rejection", extra={"org_id": delivery.org, "provider": provider.name}
            )
            return
        if recorded is None:
            metrics.add_metric(name="WebhookRejectionsNotRecorded", unit=MetricUnit.Count, value=1)
            logger.warning(
                "webhook rejection not recorded (counted for the minute's summary): the provider's per-minute quota is used up",
                extra={"org_id": delivery.org, "provider": provider.name, "reason": rejected.reason},
            )


def request_url(event: Any) -> str:
    """The URL the provider sent to, as it sees it (Square signs it): scheme and host from the request."""
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = headers.get("host") or event.request_context.domain_name
    query = f"?{event.raw_query_string}" if event.raw_query_string else ""
    return f"{scheme}://{host}{event.raw_path}{query}"


def routes(receiver: Callable[[], Receiver] = lambda: None) -> Router:  # type: ignore[assignment,return-value]
    """A router with the webhook route (a new one per resolver), answered by ``receiver()`` (the function's,
    ``activitylog.wiring``; the OpenAPI document only lists the route)."""
    router = Router()

    @router.post(
        "/webhooks/<provider>/<org_id>",
        summary="Receive a provider's webhook for an organization (no token: signed)",
        description=f"{', '.join(f'{p.display} ({p.signature_header})' for p in PROVIDERS.values())}: "
        "verified with the organization's secret, queued, and recorded once per provider event id.",
        responses=responses({200: ("Verified and queued", "WebhookReceived")}, 400, 404, 413, 503),
    )
    def receive_webhook(provider: str, org_id: str):
        event = cast("APIGatewayProxyEventV2", router.current_event)  # the HTTP API's resolver
        body = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode("utf-8")
        headers = {name.lower(): value for name, value in (event.headers or {}).items()}
        return receiver().receive(
            provider, org_id, body, headers, request_url(event), event.request_context.http.source_ip
        )

    return router
