"""Nothing secret waits in the webhook queue, its dead letters or the ``webhooks/`` objects, nor in a rejection (issue 18, items 9, 6, 8).

Given a signed delivery whose body holds card numbers, a CVC, an expiry and a password, when
the receiver has verified it, then what it queues (or offloads to S3 when it is too large for
SQS) is already redacted, and the entry says the signature was verified on the raw bytes,
naming them by size and SHA-256. A message queued before the receiver redacted is still
recorded, redacted by the ingest.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from activitylog import details
from activitylog.errors import BadRequest
from activitylog.webhooks.queue import MAX_MESSAGE_BYTES
from tests.support.kit import provider_event, signed_delivery

from .test_core_faults import MOTO  # noqa: F401 - the fixtures' configuration
from .test_webhooks import ORG, READER, hooks  # noqa: F401 - the fixture

NOW = datetime.now(timezone.utc)
SECRETS = ("4242424242424242", "4111 1111 1111 1111", "12/27", "hunter2", '"737"', "v1=")


def card_event(event_id: str, **fields) -> dict:
    return provider_event("stripe", event_id, "charge.succeeded", NOW - timedelta(minutes=1),
                          description="card 4242424242424242 exp 11/29", expiry="12/27",
                          payment_method_details={"card": {"Number": "4111 1111 1111 1111", "Cvc": "737", "exp_month": 12,
                                                           "exp_year": 2027, "last4": "1111"}},
                          metadata={"Password": "hunter2"}, **fields)


def deliver_raw(hooks, event: dict) -> bytes:
    url = f"https://hooks.example.com/webhooks/stripe/{ORG}"
    body, headers = signed_delivery("stripe", hooks.secrets[(ORG, "stripe")], event, url)
    hooks.receiver.receive("stripe", ORG, body, headers, url, "203.0.113.7")
    return body


def queued_texts(hooks) -> list[str]:
    """Every queued message as stored, and every object under webhooks/ unpacked."""
    messages = hooks.sqs.receive_message(QueueUrl=hooks.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    objects = hooks.s3.list_objects_v2(Bucket="details", Prefix="webhooks/").get("Contents", [])
    stored = [json.dumps(details.unpack(hooks.s3.get_object(Bucket="details", Key=o["Key"])["Body"].read())) for o in objects]
    return [m["Body"] for m in messages] + stored


def test_what_the_receiver_queues_is_redacted_already_and_the_entry_names_the_verified_raw_bytes(hooks):
    raw = deliver_raw(hooks, card_event("evt_card_in_queue"))

    (queued,) = queued_texts(hooks)
    for secret in SECRETS:
        assert secret not in queued, secret  # what SQS keeps for 14 days, and the DLQ after it
    hooks.drain()
    (entry,) = hooks.entries()
    webhook = hooks.service.get(READER, entry["id"]).metadata["webhook"]
    assert webhook["signature_verified"] is True
    assert (webhook["request"]["body_bytes"], webhook["request"]["body_sha256"]) == (len(raw), hashlib.sha256(raw).hexdigest())
    card = webhook["request"]["body"]["data"]["object"]["payment_method_details"]["card"]
    assert card == {"Number": "************1111", "Cvc": "*****", "exp_month": 12, "exp_year": 2027, "last4": "1111"}
    assert webhook["request"]["body"]["data"]["object"]["description"] == "card ************4242 exp 11/29"
    assert webhook["request"]["headers"]["stripe-signature"] == "*****"
    assert entry["entity"]["type"] == "payment" and entry["event"] == "charge.succeeded"  # read from the redacted event


def test_a_delivery_too_large_for_sqs_is_offloaded_to_s3_redacted(hooks):
    notes = "".join(f"line {n:06d} of a long order note\n" for n in range(9000))
    event = card_event("evt_card_offloaded", notes=notes)
    assert len(json.dumps(event)) > MAX_MESSAGE_BYTES
    deliver_raw(hooks, event)

    texts = queued_texts(hooks)
    assert len(texts) == 2 and '"offloaded": "webhooks/' in texts[0]  # the pointer on SQS, the message in S3
    for secret in SECRETS:
        assert not any(secret in text for text in texts), secret
    hooks.drain()
    (entry,) = hooks.entries()
    assert hooks.service.get(READER, entry["id"]).metadata["webhook"]["request"]["body"]["data"]["object"]["notes"] == notes


def test_a_message_queued_before_the_receiver_redacted_is_recorded_redacted_by_the_ingest(hooks):
    """A raw message already on the queue or in the DLQ when this version is deployed is not lost."""
    event = card_event("evt_queued_raw")
    url = f"https://hooks.example.com/webhooks/stripe/{ORG}"
    body, headers = signed_delivery("stripe", hooks.secrets[(ORG, "stripe")], event, url)
    legacy = {"provider": "stripe", "org": ORG, "event_id": "evt_queued_raw", "event_type": "charge.succeeded",
              "received_at": NOW.isoformat(), "url": url, "headers": headers, "body": body.decode(), "body_encoding": "utf-8"}
    hooks.sqs.send_message(QueueUrl=hooks.queue_url, MessageBody=json.dumps(legacy))
    hooks.drain()
    (entry,) = hooks.entries()
    webhook = hooks.service.get(READER, entry["id"]).metadata["webhook"]
    assert webhook["signature_verified"] is True and webhook["request"]["body_sha256"] == hashlib.sha256(body).hexdigest()
    stored = json.dumps(webhook)
    for secret in SECRETS:
        assert secret not in stored, secret


def test_a_rejection_record_keeps_the_url_without_its_credentials_or_card_numbers(hooks):
    event = card_event("evt_forged_with_secrets")
    url = f"https://hooks.example.com/webhooks/stripe/{ORG}?token=abc123&pan=4242424242424242"
    body, headers = signed_delivery("stripe", "whsec_attacker", event, url)
    headers["referer"] = "https://u:pw@shop.example.com/?api_key=k9"
    with pytest.raises(BadRequest, match="signature does not match"):
        hooks.receiver.receive("stripe", ORG, body, headers, url, "203.0.113.7")
    (warning,) = hooks.entries("SYSTEM_EVENT")
    request = hooks.service.get(READER, warning["id"]).metadata["webhook"]["request"]
    assert request["url"] == f"https://hooks.example.com/webhooks/stripe/{ORG}?token=*****&pan=************4242"
    assert request["headers"]["referer"] == "https://*****@shop.example.com/?api_key=*****"
    assert "body" not in request and request["body_sha256"] == hashlib.sha256(body).hexdigest()
