"""The orgs' policy changes, from the table's stream to the re-stamp, through a FIFO queue.

The table's stream has two readers, as DynamoDB Streams advises at most: the archive and the streams' fan-out. The
fan-out takes the policy items too and hands each such record, unchanged, to ``RetentionChanges`` (``forward``), an
SQS FIFO queue whose message group is the org's partition key, so an org's changes and each chunk's progress reach
the re-stamp in order (deduplicated by the record's sequence number when a failed fan-out batch is retried).

The retention function reads that queue (``handle``): each message is the stream record again (Powertools'
``DynamoDBRecord``), given to ``Restamper.on_stream`` as the stream gave it before. A step reads the org's latest
policy, so an org steps once a batch; an org whose step fails has its messages reported failed and comes back alone
(Powertools' FIFO processor skips the rest of its group and goes on with the other orgs).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from activitylog import keys
from activitylog.fifo import FifoQueue

if TYPE_CHECKING:
    from activitylog.retention.restamp import Restamper


def is_policy_change(record: dict) -> bool:
    """A stream record (Lambda's JSON) of an org's retention policy item written (template.yaml's filter for it)."""
    return (
        record.get("eventName") in ("INSERT", "MODIFY")
        and record.get("dynamodb", {}).get("Keys", {}).get("sk", {}).get("S") == keys.RETENTION_META
    )


class RetentionChanges(FifoQueue):
    """The ``RetentionChanges`` FIFO queue, written by the fan-out."""

    setting = "RETENTION_QUEUE_URL"

    def forward(self, records: list[dict]) -> int:
        """Each record, unchanged, in its org's lane. Raises when a send fails: the fan-out's batch fails and Lambda
        retries it (a record sent before the failure is deduplicated by its sequence number)."""
        for record in records:
            stream = record["dynamodb"]
            self.send(json.dumps(record), stream["Keys"]["pk"]["S"], stream["SequenceNumber"])
        return len(records)


def handle(restamper: "Restamper", event: dict, context: Any) -> Any:
    """The retention function: a batch of ``RetentionChanges`` messages; answers ``batchItemFailures``."""
    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    stepped: set[str] = set()

    def record_handler(record: Any) -> None:
        change = json.loads(record.body)
        if keys.org_of(change["dynamodb"]["Keys"]["pk"]["S"]) not in stepped:  # a step reads the latest policy
            stepped.update(restamper.on_stream([DynamoDBRecord(change)]))

    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
