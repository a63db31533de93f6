"""The message between the receiver and the ingest function, on the webhook queue.

A message is one verified delivery: provider, org, the event's identity (id, type, time: read
from the raw body), when it arrived, and the request as the entry keeps it, redacted already
(``mapping.redacted_request``: its URL, headers and body, the raw body's size and SHA-256).
The raw body never leaves the receiver: the queue, its dead-letter queue and the objects
below keep messages for days, and a card number must not wait there.

SQS takes at most 256 KB a message: a larger one is stored first in the detail bucket under
``webhooks/`` (compressed, like an entry's detail) and the message carries its key
(``offloaded``). The ingest function reads it back and deletes the object once its entry is
written (the same message received again then finds its event recorded: a success); the
bucket's lifecycle rule removes any left behind.

The receiver sends ``WebhookQueue(url, DetailStore(bucket)).enqueue(message_for(provider, org, identity,
received_at, request))``; the ingest reads each back with ``read_message(record.body, detail_store)``.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from functools import cached_property
from typing import Optional

from activitylog import details
from activitylog.backoff import retry_later
from activitylog.details import DetailStore
from activitylog.webhooks.providers.base import Identity

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's limit, and the queue's MaximumMessageSize in template.yaml
OFFLOAD_PREFIX = "webhooks/"


def message_for(provider: str, org: str, identity: Identity, received_at: str, request: dict) -> dict:
    """The message of a verified delivery; ``request`` is redacted already (``mapping.redacted_request``)."""
    return {
        "provider": provider,
        "org": org,
        "event_id": identity.event_id,
        "event_type": identity.event_type,
        "occurred_at": identity.occurred_at.isoformat() if identity.occurred_at else None,
        "received_at": received_at,
        "request": request,
    }


def identity_of(message: dict) -> Identity:
    occurred = message.get("occurred_at")
    return Identity(message["event_id"], message["event_type"], datetime.fromisoformat(occurred) if occurred else None)


def body_of(message: dict) -> bytes:
    """The raw body of a message queued before the receiver redacted (``url``, ``headers``, ``body``)."""
    if message.get("body_encoding") == "base64":
        return base64.b64decode(message["body"])
    return message["body"].encode("utf-8")


class WebhookQueue:
    def __init__(self, queue_url: str, detail_store: DetailStore) -> None:
        self.queue_url = queue_url
        self.detail_store = detail_store

    @cached_property
    def client(self):
        import boto3  # built when first used: the receiver's cold start does not wait for it

        return boto3.client("sqs")

    def enqueue(self, message: dict) -> Optional[str]:
        """Send ``message``; answers the S3 key it was offloaded to, if it was too large for SQS."""
        body = json.dumps(message, separators=(",", ":"))  # ASCII: every character SQS accepts
        offloaded = None
        if len(body.encode()) > MAX_MESSAGE_BYTES:
            offloaded = f"{OFFLOAD_PREFIX}{message['org']}/{message['provider']}/{uuid.uuid4().hex}.json.z"
            self.detail_store.put(offloaded, details.pack(message))
            body = json.dumps(
                {key: message[key] for key in ("provider", "org", "event_id", "event_type", "received_at")}
                | {"offloaded": offloaded}
            )
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except Exception:
            if offloaded:
                self.detail_store.delete([offloaded])
            raise
        return offloaded

    def retry_later(self, delays: list[tuple[str, int]]) -> None:
        """Make received messages (by receipt handle) visible again after their delay (seconds), not the queue's timeout."""
        retry_later(self.client, self.queue_url, delays)


class OffloadedBodyMissing(LookupError):
    """An offloaded message's body is not in S3 (any more): ``message`` is the pointer (provider, org, event id)."""

    def __init__(self, message: dict) -> None:
        super().__init__(f"the offloaded webhook body {message['offloaded']} is missing")
        self.message = message


def read_message(body: str, detail_store: DetailStore) -> tuple[dict, Optional[str]]:
    """The message a queue record carries (read back from S3 when offloaded), and its S3 key if so;
    ``OffloadedBodyMissing`` when that object is gone (its entry written, and the object deleted)."""
    message = json.loads(body)
    offloaded = message.get("offloaded")
    if offloaded:
        blob = detail_store.get(offloaded)
        if blob is None:
            raise OffloadedBodyMissing(message)
        message = details.unpack(blob)
    return message, offloaded
