"""SQS queues the functions write to: FIFO ones in lanes (message groups: the streams' doorbells and the orgs'
policy changes), and the alerts' delayed messages (``activitylog.alerts.windows.AlertQueue``).

Each lane keeps its order and is held back alone when its messages fail; the client is made when first used
(a function that never sends pays no boto3 import).
"""

from __future__ import annotations

from typing import Any, Optional


class SqsQueue:
    """A queue written to by URL, its client made when first used; ``setting`` names the variable whose absence
    makes a send fail loudly (``url()``)."""

    setting = "the queue's URL"

    def __init__(self, queue_url: Optional[str], client: Any = None) -> None:
        self.queue_url, self._client = queue_url, client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def url(self) -> str:
        if not self.queue_url:
            raise RuntimeError(f"{self.setting} is not set")
        return self.queue_url


class FifoQueue(SqsQueue):
    """``send`` a body in its lane."""

    def send(self, body: str, lane: str, dedupe: str) -> None:
        """``dedupe``: SQS drops a message whose id it saw in the last 5 minutes (a retried batch's, a doorbell's)."""
        self.client.send_message(
            QueueUrl=self.url(), MessageBody=body, MessageGroupId=lane, MessageDeduplicationId=dedupe[:128]
        )
