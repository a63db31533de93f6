"""Email through SES, for what the service tells people itself: a stream paused, an alert's window (the local
stack's outbox shows them). Below streams and alerts, which both send."""

from __future__ import annotations

from typing import Any, Optional


class Mailer:
    """Emails through SES (the local stack's outbox shows them)."""

    def __init__(self, sender: Optional[str], client: Any = None) -> None:
        self.sender, self._client = sender, client

    def send(self, to: str, subject: str, text: str) -> None:
        if not self.sender:
            return
        if self._client is None:
            import boto3

            self._client = boto3.client("sesv2")
        self._client.send_email(
            FromEmailAddress=self.sender,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}},
        )
