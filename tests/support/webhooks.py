"""The webhook receiver and ingest over one table, queue, bucket and SSM secrets (in moto); the ``hooks``
fixture (tests/integration/conftest.py) builds one per test."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3

from activitylog.details import DetailStore
from activitylog.query.filters import parse_list_request
from activitylog.service import Caller
from activitylog.webhooks.ingest import Ingest
from activitylog.webhooks.queue import WebhookQueue
from activitylog.webhooks.receiver import Receiver
from activitylog.webhooks.secrets import SigningSecrets
from tests.support.kit import signed_delivery
from tests.support.events import sqs_record
from tests.support.store import service_for

ORG, OTHER = "org_hooks", "org_elsewhere"
SECRETS_PATH = "/test/webhooks"
READER = Caller(ORG, "u_1", frozenset({"activity:read"}))
NOW = datetime.now(timezone.utc)


class Webhooks:
    """The receiver and the ingest over one table, one queue, one bucket and the SSM secrets."""

    def __init__(self, table: str) -> None:
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.queue_url = self.sqs.create_queue(QueueName="webhooks")["QueueUrl"]
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket="details")
        ssm = boto3.client("ssm", region_name="us-east-1")
        for org, provider, secret in ((ORG, "stripe", "whsec_hooks"), (ORG, "square", "sq_key_hooks"), (ORG, "fedex", "fdx_hooks"),
                                      (OTHER, "stripe", "whsec_elsewhere")):
            ssm.put_parameter(Name=f"{SECRETS_PATH}/{org}/{provider}", Value=secret, Type="SecureString")
        self.secrets = {(ORG, "stripe"): "whsec_hooks", (ORG, "square"): "sq_key_hooks", (ORG, "fedex"): "fdx_hooks",
                        (OTHER, "stripe"): "whsec_elsewhere"}
        self.service = service_for(table, 2, "details")
        details = DetailStore("details")
        queue = WebhookQueue(self.queue_url, details)
        self.receiver = Receiver(self.service, SigningSecrets(SECRETS_PATH), queue)
        self.ingest = Ingest(self.service, details, queue, retry_seconds=1)

    def deliver(self, provider: str, event, org: str = ORG, secret: str | None = None, **kwargs) -> dict:
        url = f"https://hooks.example.com/webhooks/{provider}/{org}"
        body, headers = signed_delivery(provider, secret or self.secrets[(org, provider)], event, url, **kwargs)
        return self.receiver.receive(provider, org, body, headers, url, "203.0.113.7")

    def drain(self) -> list[dict]:
        """Receive what is queued and run the ingest on it, as the SQS event source does; the answers."""
        answers = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                                VisibilityTimeout=30).get("Messages", [])
            if not messages:
                return answers
            answer = self.ingest.handle({"Records": [sqs_record(m) for m in messages]}, None)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            answers.append(answer)
            if failed:
                return answers

    def entries(self, type_: str = "WEBHOOK", org: str = ORG) -> list[dict]:
        reader = Caller(org, "u_1", frozenset({"activity:read"}))
        query = {"type": type_, "from": (NOW - timedelta(days=3)).isoformat(), "limit": "200"}
        return self.service.list(reader, parse_list_request(query)).items

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
