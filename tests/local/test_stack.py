"""Starting and restarting the stack: what persists, and what a stale table says.

Given a data folder (as ``make dev`` uses ``.local``), when the stack stops and starts
again, then the tables' items, S3 objects, generated secrets, queued messages and SSM
parameters are the same; and a table left by an older template is reported in one line
instead of failing later. (A crash, SIGKILL in the middle of work, is tests/e2e/test_durability.py.)
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from samlocal.dynamodb import SetupError
from samlocal.stack import LocalStack, StackOptions
from tests.support.stack import FIXTURE_TEMPLATE, wait_for


def test_data_secrets_and_objects_survive_a_restart(tmp_path, caplog):
    options = StackOptions(template_path=FIXTURE_TEMPLATE, data_dir=tmp_path, port=0, serve_http=False)
    with LocalStack(options):
        pass  # empty buckets: nothing to save, and nothing to complain about
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    with LocalStack(options) as stack:
        ddb = boto3.client("dynamodb", endpoint_url=stack.dynamodb.endpoint, region_name="us-east-1")
        ddb.put_item(TableName=stack.tables["SeenTable"], Item={"pk": {"S": "kept"}, "sk": {"S": "1"}})
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.put_object(Bucket=stack.buckets["FilesBucket"], Key="bodies/a.json", Body=b"{}", ContentType="application/json")
        s3.put_object(Bucket=stack.buckets["FilesBucket"], Key="bodies/gone.json", Body=b"{}")
        s3.delete_object(Bucket=stack.buckets["FilesBucket"], Key="bodies/gone.json")
        secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(SecretId=stack.intrinsics.ref("Secret"))["SecretString"]
        kms = boto3.client("kms", region_name="us-east-1")  # a data key wrapped under the template's encryption key
        made = kms.generate_data_key(KeyId=stack.intrinsics.ref("DataKey"), NumberOfBytes=32, EncryptionContext={"org": "o"})
    assert (tmp_path / "dynamodb").is_dir() and (tmp_path / "s3" / stack.buckets["FilesBucket"] / "bodies" / "a.json").exists()

    with LocalStack(options) as again:
        ddb = boto3.client("dynamodb", endpoint_url=again.dynamodb.endpoint, region_name="us-east-1")
        assert ddb.get_item(TableName=again.tables["SeenTable"], Key={"pk": {"S": "kept"}, "sk": {"S": "1"}}).get("Item")
        s3 = boto3.client("s3", region_name="us-east-1")
        obj = s3.get_object(Bucket=again.buckets["FilesBucket"], Key="bodies/a.json")
        assert (obj["Body"].read(), obj["ContentType"]) == (b"{}", "application/json")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=again.buckets["FilesBucket"])["Contents"]] == ["bodies/a.json"]
        assert boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
            SecretId=again.intrinsics.ref("Secret"))["SecretString"] == secret
        # ... and still unwraps: the key's id and material are kept (the data subjects' keys depend on it)
        assert again.intrinsics.ref("DataKey") == stack.intrinsics.ref("DataKey")
        assert boto3.client("kms", region_name="us-east-1").decrypt(
            CiphertextBlob=made["CiphertextBlob"], EncryptionContext={"org": "o"})["Plaintext"] == made["Plaintext"]


def test_queued_messages_and_parameters_are_on_disk_as_they_are_written_and_come_back(tmp_path):
    options = StackOptions(template_path=FIXTURE_TEMPLATE, data_dir=tmp_path, port=0, serve_http=False, poll_seconds=0.1)
    sqs, ssm = boto3.client("sqs", region_name="us-east-1"), boto3.client("ssm", region_name="us-east-1")
    with LocalStack(options) as stack:
        dlq, work = stack.queue_url("WorkDeadLetters"), stack.queue_url("WorkQueue")
        kept = sqs.send_message(QueueUrl=dlq, MessageBody="kept", MessageAttributes={
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}, "org": {"DataType": "String", "StringValue": "org_1"}})
        gone = sqs.send_message(QueueUrl=dlq, MessageBody="gone")
        received = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=next(m["ReceiptHandle"] for m in received if m["Body"] == "gone"))
        sqs.send_message(QueueUrl=work, MessageBody="fail")  # the worker fails it twice: the redrive policy moves it
        wait_for(lambda: any(m["Body"] == "fail" for m in sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])), timeout=20)
        ssm.put_parameter(Name="/fixture/webhooks/org_1/stripe", Value="whsec_kept", Type="SecureString")
        ssm.put_parameter(Name="/fixture/gone", Value="x", Type="String")
        ssm.delete_parameter(Name="/fixture/gone")
        # Written before anything stops: a crash now would lose none of it.
        journal = (tmp_path / "sqs.jsonl").read_text()
        assert kept["MessageId"] in journal and gone["MessageId"] in journal
        assert "/fixture/webhooks/org_1/stripe" in (tmp_path / "ssm.json").read_text()

    with LocalStack(options) as again:
        dlq = again.queue_url("WorkDeadLetters")
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"],
                                       MessageAttributeNames=["All"])["Messages"]
        by_body = {m["Body"]: m for m in messages}
        assert sorted(by_body) == ["fail", "kept"]  # "kept" was in flight at stop: visible again, like after its timeout
        assert by_body["kept"]["MessageId"] == kept["MessageId"]
        assert by_body["kept"]["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\xff"
        assert by_body["kept"]["MessageAttributes"]["org"]["StringValue"] == "org_1"
        assert by_body["kept"]["Attributes"]["ApproximateReceiveCount"] == "2"  # its receive before the restart counts
        assert int(by_body["fail"]["Attributes"]["ApproximateReceiveCount"]) >= 3  # two from the worker, one or more above
        assert sqs.get_queue_attributes(QueueUrl=again.queue_url("WorkQueue"), AttributeNames=["All"])[
            "Attributes"]["ApproximateNumberOfMessages"] == "0"
        assert ssm.get_parameter(Name="/fixture/webhooks/org_1/stripe", WithDecryption=True)["Parameter"]["Value"] == "whsec_kept"
        with pytest.raises(ssm.exceptions.ParameterNotFound):
            ssm.get_parameter(Name="/fixture/gone")
    # The journal was compacted at start: one line per message still queued.
    assert len((tmp_path / "sqs.jsonl").read_text().splitlines()) <= 4


def test_a_table_from_an_older_template_is_a_one_line_error(dynamodb_local, tmp_path):
    stack_name = f"old{uuid.uuid4().hex[:6]}"
    ddb = boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1")
    ddb.create_table(TableName=f"{stack_name}-SeenTable", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    options = StackOptions(template_path=FIXTURE_TEMPLATE, data_dir=tmp_path, port=0, in_memory=True,
                           dynamodb_endpoint=dynamodb_local.endpoint, stack_name=stack_name, serve_http=False)
    with pytest.raises(SetupError, match=r"SeenTable .* older template.yaml \(its key schema differs\): delete .* and start again"):
        LocalStack(options).start()
