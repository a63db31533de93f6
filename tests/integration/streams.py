"""A table's DynamoDB Local stream as Lambda would deliver it, for the stream consumers' tests.

The records are converted by the local stack's own ``lambda_record`` (binary in base64, times
in epoch seconds, TTL deletions with the service's identity), so the tests and ``make dev``
feed the functions the same shape; ``stream_event`` checks it against Powertools' model of
AWS's event before a test uses it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional

import boto3

from activitylog import wiring
from activitylog.mail import Mailer
from activitylog.streams.delivery import Delivery
from samlocal.sources import Expirations, TimeToLive, lambda_record
from tests.integration.api_events import claims
from tests.support.streams import SECRET

ADMIN = claims(org="org_acme", sub="u_admin", scope="activity:admin", name="Morgan Admin")
ADMIN["email"] = "morgan@acme.example"


class TableStream:
    """Everything the table's stream holds, read from the trim horizon each time."""

    def __init__(self, client, table: str) -> None:
        import boto3

        self.client, self.table = client, table
        self.arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.streams = boto3.client("dynamodbstreams", endpoint_url=client.meta.endpoint_url, region_name="us-east-1")
        self.expirations = Expirations()
        self._seen: dict[str, dict] = {}  # converted once: a TTL identity is claimed once

    def records(self) -> list[dict]:
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        found = []
        for shard in shards:
            iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard["ShardId"],
                                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                found += answer["Records"]
                if not answer["Records"]:
                    break
                iterator = answer.get("NextShardIterator")
        for record in found:
            sequence = record["dynamodb"]["SequenceNumber"]
            if sequence not in self._seen:
                self._seen[sequence] = lambda_record(record, self.arn, self.expirations)
        return [self._seen[record["dynamodb"]["SequenceNumber"]] for record in found]

    def expire(self, attribute: str = "exp") -> int:
        """Run the table's Time to Live once (the local stack's), deleting what has expired."""
        ttl = TimeToLive(self.client.meta.endpoint_url, self.table, attribute, self.expirations, readers=1)
        return ttl.sweep(self.client, ["pk", "sk"])


def stream_event(records: list[dict], after: Optional[str] = None) -> dict:
    """A Lambda event of ``records`` (those after sequence number ``after``), checked against Powertools' AWS model."""
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

    chosen = [r for r in records if after is None or int(r["dynamodb"]["SequenceNumber"]) > int(after)]
    event = {"Records": chosen}
    parse(event=event, model=DynamoDBStreamModel)  # raises if the shape is not AWS's
    return event


def public_resolver(host: str, port: int = 443, *args, **kwargs):  # a stub resolver: names resolve to a public address
    return [(2, 1, 6, "", ("93.184.216.34", port))]


class StreamsWorld:
    """Streams through the API's functions: settings, the fan-out from the table's stream, delivery (tests/integration/test_streams.py)."""

    def __init__(self, api, stream: TableStream, queue_url: str) -> None:
        self.api, self.stream, self.queue_url = api, stream, queue_url
        self.seen = None  # the last stream sequence number fanned out
        self.clock = datetime.now(timezone.utc)

    def call(self, method, path, body=None, token=ADMIN):
        return self.api.call(method, path, body=body, token=token)

    def create(self, url, token=ADMIN, **fields):
        body = {"name": "SIEM", "destination": {"kind": "https", "url": url}, "secret": SECRET, **fields}
        reply = self.call("POST", "/settings/streams", body, token)
        assert reply.status == 201, reply
        return reply.body

    def fan_out(self) -> dict:
        records = [r for r in self.stream.records()
                   if self.seen is None or int(r["dynamodb"]["SequenceNumber"]) > int(self.seen)]
        if records:
            self.seen = records[-1]["dynamodb"]["SequenceNumber"]
        return wiring.container().fanout.handle(records)

    def delivery(self) -> Delivery:
        container = wiring.container()
        return Delivery(container.service, container.stream_secrets, container.doorbell, Mailer("streams@acme.example"),
                        allow_loopback=True, now=lambda: self.clock)

    def doorbells(self) -> list[dict]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        found = []
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
            messages = answer.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def ring_all(self, delivery: Delivery) -> list:
        """Every doorbell on the queue rung once, as the delivery function would (failures returned, not raised)."""
        outcomes = []
        for message in self.doorbells():
            try:
                outcomes.append(delivery.ring(message))
            except Exception as failure:  # noqa: BLE001 - the test reads what failed
                outcomes.append(failure)
        return outcomes
