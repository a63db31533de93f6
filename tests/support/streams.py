"""A stream's receiver for the pipeline's tests: ``tests.support.receiver``'s HTTP server on 127.0.0.1, verifying each
request's Standard Webhooks signature with the library (``standardwebhooks``), as a customer's endpoint would, and
keeping the events it accepted in the order they arrived."""

from __future__ import annotations

from tests.support.receiver import Receiver as HttpReceiver
from tests.support.receiver import Received

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """Answers ``status`` (200: after verifying the signature, keeping the events); ``url``, ``events``, ``requests``."""

    def __init__(self, secret: str = SECRET) -> None:
        from standardwebhooks.webhooks import Webhook

        self.webhook, self.events, self.status = Webhook(secret), [], 200
        self.http = HttpReceiver(self._answer).__enter__()
        self.url = self.http.url("/hook")

    def _answer(self, request: Received) -> tuple[int, bytes]:
        if self.status != 200:
            return self.status, b"down for maintenance"
        self.events.extend(self.webhook.verify(request.body, {k.lower(): v for k, v in request.headers.items()}))
        return 200, b"ok"

    @property
    def requests(self) -> int:
        return len(self.http.requests)

    def close(self) -> None:
        self.http.__exit__(None, None, None)
