"""The streams' doorbells: one SQS FIFO message says "stream X has work", in the stream's own lane (its message
group), rung by the fan-out, the settings (resume, backfill) and the delivery itself (the next step)."""

from __future__ import annotations

import json
from typing import Any, Optional

from activitylog.fifo import FifoQueue


class Doorbell(FifoQueue):
    """The FIFO queue's messages: "stream X has work" (or a backfill step), one lane per stream."""

    setting = "STREAM_QUEUE_URL"

    def ring(self, org: str, stream_id: str, dedupe: str, backfill: Optional[dict] = None) -> None:
        """``dedupe`` coalesces doorbells within SQS's 5-minute window (a fan-out batch's last sequence number)."""
        body: dict[str, Any] = {"org": org, "stream": stream_id}
        if backfill is not None:
            body["backfill"] = backfill
        self.send(json.dumps(body), f"{org}:{stream_id}", f"{stream_id}:{dedupe}")
