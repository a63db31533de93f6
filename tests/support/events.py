"""Lambda events for tests, each started from its AWS-shaped sample under tests/events/.

The samples are what AWS sends (tests/unit/test_events.py parses each with Powertools' model of
it); a builder here copies one and fills in what the test sends, so no test writes an event's
shape by hand.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Optional

EVENTS = Path(__file__).resolve().parents[1] / "events"


@cache
def _read(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def sample(name: str) -> dict:
    """A fresh copy of tests/events/<name>.json."""
    return copy.deepcopy(_read(name))


def sqs_record(message: dict, queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:webhooks") -> dict:
    """The SQS event source's record of a ReceiveMessage ``message`` (no message attributes); the system
    attributes the message was not received with keep the sample's values."""
    record = sample("sqsEvent")["Records"][0]
    record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"],
                  attributes={**record["attributes"], **message.get("Attributes", {})}, messageAttributes={},
                  md5OfBody=message["MD5OfBody"],
                  eventSourceARN=queue_arn, awsRegion=queue_arn.split(":")[3])
    return record


def eventbridge_event(entry: dict, time: Optional[datetime | str] = None) -> dict:
    """The event EventBridge delivers for one PutEvents ``entry`` (Source, DetailType, Detail, Time)."""
    event: dict[str, Any] = sample("eventBridgeEvent")
    event.update({"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])})
    moment = time if time is not None else entry.get("Time")
    if moment is not None:
        event["time"] = moment.isoformat() if isinstance(moment, datetime) else moment
    return event
