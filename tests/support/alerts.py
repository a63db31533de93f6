"""An alert's URL for the alerts' tests: ``tests.support.receiver``'s HTTP server on 127.0.0.1, verifying each
notification's Standard Webhooks signature with the library, as a customer's endpoint would, and keeping its JSON
document (Slack's ``{"text": ...}`` and the rest) and its ``webhook-id``."""

from __future__ import annotations

from tests.support.receiver import Receiver as HttpReceiver
from tests.support.streams import SECRET


class AlertReceiver:
    """Answers ``status`` (200: after verifying the signature); ``url``, ``documents``, ``ids``."""

    def __init__(self, secret: str = SECRET) -> None:
        from standardwebhooks.webhooks import Webhook

        self.webhook, self.documents, self.ids, self.status = Webhook(secret), [], [], 200
        self.http = HttpReceiver(self._answer).__enter__()
        self.url = self.http.url("/slack")

    def _answer(self, request):
        if self.status != 200:
            return self.status, b"no_service"
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.documents.append(self.webhook.verify(request.body, headers))
        self.ids.append(headers["webhook-id"])
        return 200, b"ok"

    def close(self) -> None:
        self.http.__exit__(None, None, None)
