"""The platform bus with the template's own rules, in moto: what the job tests and the bulk retry tests share.

Activity events go to a queue for their own consumer (the activity events function, handed them as its SQS
event source would); run requests go to a queue standing in for the job handler.
"""

from __future__ import annotations

import json

import boto3

from activitylog.jobs.client import ActivityClient, Publisher
from samlocal.template import load
from tests.support.kit import LambdaContext, load_handler_module, sqs_record

MOTO = {"core": {"passthrough": {"services": ["dynamodb"]}}}


class Platform:
    """The platform bus with the template's two rules: activity events → a queue for their own
    consumer, run requests → a queue standing in for the job handler."""

    def __init__(self) -> None:
        resources = load()["Resources"]
        self.events = boto3.client("events", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.bus = "platform"
        self.events.create_event_bus(Name=self.bus)
        self.activity_queue = self._queue_for("activity", resources["ActivityEventsRule"]["Properties"]["EventPattern"])
        self.run_queue = self._queue_for("runs", resources["DemoJobsFunction"]["Properties"]["Events"]["RunRequested"]["Properties"]["Pattern"])
        self.ingest = load_handler_module("ActivityEventsFunction")  # the activity queue's consumer

    def _queue_for(self, name: str, pattern: dict) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=name, EventBusName=self.bus, EventPattern=json.dumps(pattern))
        self.events.put_targets(Rule=name, EventBusName=self.bus, Targets=[{"Id": name, "Arn": arn}])
        return url, arn

    def client(self, org: str = "org_acme", **kwargs) -> ActivityClient:
        return ActivityClient(org, publisher=Publisher(self.bus, self.events), producer="svc_jobs", **kwargs)

    def received(self, queue: tuple[str, str]) -> list[dict]:
        """Every message waiting on the queue, taken off it."""
        url, _ = queue
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
            if not batch:
                return messages
            messages += batch
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                                  for i, m in enumerate(batch)])

    def deliver(self, messages: list[dict]) -> dict:
        """Hand messages to the activity events function in one batch, as its SQS event source would."""
        return self.ingest.lambda_handler({"Records": [sqs_record(m, self.activity_queue[1]) for m in messages]}, LambdaContext())

    def deliver_all(self) -> None:
        for start in range(0, len(messages := self.received(self.activity_queue)), 10):
            assert self.deliver(messages[start:start + 10]) == {"batchItemFailures": []}

    def run_requests(self) -> list[dict]:
        return [json.loads(m["Body"]) for m in self.received(self.run_queue)]
