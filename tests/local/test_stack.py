"""Starting and restarting the stack: what persists, and what a stale table says.

Given a data folder (as ``make dev`` uses ``.local``), when the stack stops and starts
again, then the tables' items, S3 objects and generated secrets are the same; and a table
left by an older template is reported in one line instead of failing later.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from activitylog_local.dynamodb import SetupError
from activitylog_local.stack import LocalStack, StackOptions
from tests.local.conftest import FIXTURE_TEMPLATE


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
