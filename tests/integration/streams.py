"""A table's DynamoDB Local stream as Lambda would deliver it, for the stream consumers' tests.

The records are converted by the local stack's own ``lambda_record`` (binary in base64, times
in epoch seconds, TTL deletions with the service's identity), so the tests and ``make dev``
feed the functions the same shape; ``stream_event`` checks it against Powertools' model of
AWS's event before a test uses it.
"""

from __future__ import annotations

from typing import Optional

from samlocal.sources import Expirations, TimeToLive, lambda_record


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
