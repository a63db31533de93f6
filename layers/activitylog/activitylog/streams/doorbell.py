"""The streams' doorbells: one SQS FIFO message says "stream X has work", in the stream's own lane (its message
group), rung by the fan-out, the settings (resume, backfill) and the delivery itself (the next step)."""

from __future__ import annotations

import json
from typing import Any, Optional


class Doorbell:
    """The FIFO queue's messages: "stream X has work" (or a backfill step), one lane per stream."""

    def __init__(self, queue_url: Optional[str], client: Any = None) -> None:
        self.queue_url, self._client = queue_url, client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def ring(self, org: str, stream_id: str, dedupe: str, backfill: Optional[dict] = None) -> None:
        """``dedupe`` coalesces doorbells within SQS's 5-minute window (a fan-out batch's last sequence number)."""
        if not self.queue_url:
            raise RuntimeError("STREAM_QUEUE_URL is not set")
        body: dict[str, Any] = {"org": org, "stream": stream_id}
        if backfill is not None:
            body["backfill"] = backfill
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(body),
            MessageGroupId=f"{org}:{stream_id}",
            MessageDeduplicationId=f"{stream_id}:{dedupe}"[:128],
        )
