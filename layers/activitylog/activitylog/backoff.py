"""Failed SQS messages come back after a delay that doubles per receive, not the queue's whole visibility timeout.

The webhook ingest and the activity events' consumer report failed records (``batchItemFailures``)
and tell SQS when each comes back: ``base`` × 2^(receives-1) seconds, at most ``MAX_RETRY_SECONDS``.
After the queue's ``maxReceiveCount`` receives, SQS moves the message to its dead-letter queue.

>>> retry_delays([{"receiptHandle": "h1", "attributes": {"ApproximateReceiveCount": "3"}}], 10)
[('h1', 40)]
"""

from __future__ import annotations

MAX_RETRY_SECONDS = 900


def retry_delays(records: list[dict], base: int) -> list[tuple[str, int]]:
    """(receipt handle, seconds) for each failed raw SQS record."""
    delays = []
    for record in records:
        receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        delays.append((record["receiptHandle"], min(MAX_RETRY_SECONDS, base * 2 ** max(0, receives - 1))))
    return delays


def retry_later(client, queue_url: str, delays: list[tuple[str, int]]) -> None:
    """Make received messages (by receipt handle) visible again after their delay (seconds)."""
    entries = [
        {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": delay} for n, (handle, delay) in enumerate(delays)
    ]
    for start in range(0, len(entries), 10):
        client.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries[start : start + 10])
