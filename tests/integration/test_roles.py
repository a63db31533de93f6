"""Each function's role grants what its code calls, on the resources it calls it on.

The local stack does not enforce IAM, so a call a role lacks would only fail in AWS. Here
every function's handler runs its job in-process (DynamoDB Local, S3/SQS/KMS in moto) with
the environment template.yaml gives it, every AWS call is recorded with the resource it
names, and each must be an action the function's role allows on that resource.
"""

from __future__ import annotations

import fnmatch
import json
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.client import BaseClient
from moto import mock_aws

from activitylog import wiring
from activitylog.api import common
from tests.support.kit import LambdaContext, provider_event, signed_delivery
from samlocal.template import create_table

from .api_events import api_event, claims, load_handler_module
from .streams import TableStream, stream_event
from tests.support.events import eventbridge_event, sqs_record
from tests.support.template import _all_actions, _as_list, _granted, _role_statements

MOTO = {"core": {"passthrough": {"services": ["dynamodb"]}}}
STACK = "roles-stack"
STREAM_SECRETS = "secret:activitylog/streams/*"
ALERT_SECRETS = "secret:activitylog/alerts/*"
# Operations whose IAM action has another name; a transaction needs each of its parts' actions.
S3_ACTIONS = {"ListObjectsV2": "ListBucket", "ListObjectVersions": "ListBucketVersions", "HeadObject": "GetObject",
              "DeleteObjects": "DeleteObject"}
SQS_ACTIONS = {"ChangeMessageVisibilityBatch": "ChangeMessageVisibility", "SendMessageBatch": "SendMessage",
               "DeleteMessageBatch": "DeleteMessage"}
TRANSACT_PARTS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


class Calls:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # physical name -> logical id
        self.seen: list[tuple[str, str]] = []  # (logical id, IAM action)

    def record(self, service: str, operation: str, params: dict) -> None:
        if service == "dynamodb":
            if operation in ("BatchGetItem", "BatchWriteItem"):
                for table in params["RequestItems"]:
                    self.seen.append((self.names[table], f"dynamodb:{operation}"))
            elif operation == "TransactWriteItems":
                for item in params["TransactItems"]:
                    (part, body), = item.items()
                    self.seen.append((self.names[body["TableName"]], f"dynamodb:{TRANSACT_PARTS[part]}"))
            else:
                self.seen.append((self.names[params["TableName"]], f"dynamodb:{operation}"))
        elif service == "s3":
            action = S3_ACTIONS.get(operation, operation)
            if operation == "PutObject" and params.get("Tagging"):
                self.seen.append((self.names[params["Bucket"]], "s3:PutObjectTagging"))
            if operation == "GetObject" and params.get("VersionId"):
                action = "GetObjectVersion"
            self.seen.append((self.names[params["Bucket"]], f"s3:{action}"))
        elif service == "kms":  # the service key's data keys (subject keys, an org's masking key); the rest is the digest key's
            masking = (params.get("EncryptionContext") or {}).get("use") == "mask-fingerprint"
            key = "ServiceKey" if masking else self.names.get(params.get("KeyId", ""), "DigestSigningKey")
            self.seen.append((key, f"kms:{operation}"))
        elif service == "secretsmanager":
            name = params.get("SecretId") or params["Name"]
            # a stream's secret: granted on the streams' names (activitylog/streams/*), not a resource of the template
            resource = STREAM_SECRETS if name.startswith("activitylog/streams/") else self.names.get(name)
            resource = ALERT_SECRETS if name.startswith("activitylog/alerts/") else resource or self.names[name]
            self.seen.append((resource, f"secretsmanager:{operation}"))
        elif service == "sesv2":
            self.seen.append(("ses", f"ses:{operation}"))  # granted on the sender's identity
        elif service == "sqs":
            action = SQS_ACTIONS.get(operation, operation)  # IAM authorizes a batch call by its single action
            self.seen.append((self.names[params["QueueUrl"].rsplit("/", 1)[-1]], f"sqs:{action}"))
        elif service == "ssm":
            self.seen.append(("ssm", f"ssm:{operation}"))  # granted on a parameter path, not a resource of the template
        else:
            self.seen.append((service, operation))


@pytest.fixture
def world(dynamodb_client, monkeypatch, tmp_path):
    with mock_aws(config=MOTO):
        suffix = uuid.uuid4().hex[:8]
        names = {f"activity-{suffix}": "ActivityTable", f"idempotency-{suffix}": "IdempotencyTable",
                 f"archive-{suffix}": "ArchiveBucket", f"details-{suffix}": "DetailBucket", f"digests-{suffix}": "DigestBucket",
                 f"warm-{suffix}": "WarmBucket", f"subject-keys-{suffix}": "SubjectKeyTable"}
        physical = {logical: name for name, logical in names.items()}
        create_table(dynamodb_client, physical["ActivityTable"])
        create_table(dynamodb_client, physical["IdempotencyTable"], logical_id="IdempotencyTable")
        create_table(dynamodb_client, physical["SubjectKeyTable"], logical_id="SubjectKeyTable")
        s3 = boto3.client("s3", region_name="us-east-1")
        for logical in ("ArchiveBucket", "DetailBucket"):
            s3.create_bucket(Bucket=physical[logical])
            s3.put_bucket_versioning(Bucket=physical[logical], VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket=physical["DigestBucket"], ObjectLockEnabledForBucket=True)
        s3.create_bucket(Bucket=physical["WarmBucket"])
        key = boto3.client("kms", region_name="us-east-1").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        names[key] = "DigestSigningKey"
        physical["DigestSigningKey"] = key
        queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=f"webhooks-{suffix}")["QueueUrl"]
        names[f"webhooks-{suffix}"] = "WebhookQueue"
        physical["WebhookQueue"] = queue
        activity = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=f"activity-events-{suffix}")["QueueUrl"]
        names[f"activity-events-{suffix}"] = "ActivityEventsQueue"
        physical["ActivityEventsQueue"] = activity
        lanes = f"stream-deliveries-{suffix}.fifo"
        physical["StreamDeliveries"] = boto3.client("sqs", region_name="us-east-1").create_queue(
            QueueName=lanes, Attributes={"FifoQueue": "true"})["QueueUrl"]
        names[lanes] = "StreamDeliveries"
        changes = f"retention-changes-{suffix}.fifo"
        physical["RetentionChanges"] = boto3.client("sqs", region_name="us-east-1").create_queue(
            QueueName=changes, Attributes={"FifoQueue": "true"})["QueueUrl"]
        names[changes] = "RetentionChanges"
        windows = f"alert-windows-{suffix}"
        physical["AlertWindows"] = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=windows)["QueueUrl"]
        names[windows] = "AlertWindows"
        physical["ServiceKey"] = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        names[physical["ServiceKey"]] = "ServiceKey"
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=f"/{STACK}/webhooks/org_roles/stripe", Value="whsec_roles", Type="SecureString")
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name=f"cursor-{suffix}", SecretString="s3cret")["ARN"]
        names[secret] = physical["CursorSecret"] = "CursorSecret"
        physical["CursorSecret"] = secret
        calls = Calls(names)
        original = BaseClient._make_api_call

        def spy(client, operation, params):
            calls.record(client.meta.service_model.service_name, operation, params)
            return original(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", spy)
        yield physical, calls, TableStream(dynamodb_client, physical["ActivityTable"])
        for table in ("ActivityTable", "IdempotencyTable", "SubjectKeyTable"):
            dynamodb_client.delete_table(TableName=physical[table])
    _fresh()


def _fresh() -> None:
    wiring.reset()


@contextmanager
def running(function: str, physical: dict, template_doc: dict, monkeypatch, calls: Calls):
    """The function's environment (Globals and its own, names resolved to this test's), its calls recorded apart."""
    variables = {**template_doc["Globals"]["Function"]["Environment"]["Variables"],
                 **template_doc["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})}
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            value = physical.get(value["Ref"]) or str(template_doc["Parameters"][value["Ref"]]["Default"])
        elif isinstance(value, dict) and "Fn::Sub" in value:
            value = value["Fn::Sub"].replace("${AWS::StackName}", STACK)
        monkeypatch.setenv(name, str(value))
    for name in ("ARCHIVE_BUCKET", "DIGEST_BUCKET", "DIGEST_SIGNING_KEY", "IDEMPOTENCY_TABLE", "CURSOR_SECRET_NAME", "CURSOR_SECRET"):
        if name not in variables:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RETENTION_CACHE_SECONDS", "0")
    monkeypatch.delenv("ACTIVITYLOG_LOCAL_KMS_DIR", raising=False)
    _fresh()
    handler = load_handler_module(function).lambda_handler
    getattr(handler, "reset", lambda: None)()
    before = len(calls.seen)
    outcome = []
    yield outcome
    outcome.extend(calls.seen[before:])


def call(function: str, method: str, path: str, scope: str, body=None, headers=None, query=None):
    event = api_event(method, path, body=body, headers=headers, query=query, claims=claims(org="org_roles", sub="u_admin", scope=scope))
    answer = load_handler_module(function).lambda_handler(event, LambdaContext())
    assert answer["statusCode"] < 300, answer
    return json.loads(answer["body"])


def test_every_function_calls_only_what_its_role_grants(world, template, transformed, monkeypatch):
    physical, calls, stream = world
    used: dict[str, list] = {}
    # offloaded to the detail bucket; its API key is masked (the org's fingerprint key: made under the service key)
    big = {"blob": os.urandom(40_000).hex(), "api_key": "sk_roles_secret"}
    entry = {"type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "action": "synced", "event": "SYNC",
             "actor": {"kind": "system", "id": "system", "name": "system"}, "metadata": big}

    with running("SettingsFunction", physical, template, monkeypatch, calls) as used["SettingsFunction"]:
        call("SettingsFunction", "GET", "/settings/retention", "activity:admin")
        call("SettingsFunction", "PUT", "/settings/retention", "activity:admin", {"hot_days": 90})
        call("SettingsFunction", "POST", "/privacy/erasures", "activity:admin", {"subject": {"kind": "user", "id": "u_admin"}})
        call("SettingsFunction", "PUT", "/settings/privacy", "activity:admin", {"patterns": ["/ssn"]})
        call("SettingsFunction", "GET", "/settings/privacy", "activity:read")
    with running("RecordFunction", physical, template, monkeypatch, calls) as used["RecordFunction"]:
        started = call("RecordFunction", "POST", "/activities", "activity:write", entry, {"Idempotency-Key": "k1"})
        call("RecordFunction", "POST", "/activities/batch", "activity:write", {"entries": [dict(entry, metadata={}), dict(entry)]})
        call("RecordFunction", "PATCH", f"/activities/{started['id']}", "activity:write", {"metadata": {"step": 1}},
             {"Idempotency-Key": "k2"})  # the entry and the key's marker in one transaction, across the two tables
        call("RecordFunction", "PATCH", f"/activities/{started['id']}", "activity:write", {"status": "SUCCESS", "metadata": {"blob": "small"}})
    with running("SettingsFunction", physical, template, monkeypatch, calls) as again:  # the re-stamp re-tags their details
        call("SettingsFunction", "PUT", "/settings/retention", "activity:admin", {"hot_days": 365})
    used["SettingsFunction"] += again
    with running("QueryFunction", physical, template, monkeypatch, calls) as used["QueryFunction"]:
        call("QueryFunction", "GET", "/activities", "activity:read")
        call("QueryFunction", "GET", f"/activities/{started['id']}", "activity:read")
    records = stream.records()  # read by the test, as Lambda would: not the functions' calls
    policy_records = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] == "retention"]
    entries = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] not in ("shards", "retention")]
    # The policy changes reach the re-stamp through the fan-out (the stream's reader) and the RetentionChanges queue.
    with running("StreamFanoutFunction", physical, template, monkeypatch, calls) as used["StreamFanoutFunction"]:
        load_handler_module("StreamFanoutFunction").lambda_handler(stream_event(policy_records), LambdaContext())
    changes = boto3.client("sqs", region_name="us-east-1").receive_message(
        QueueUrl=physical["RetentionChanges"], MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert len(changes) == len(policy_records)
    with running("RetentionFunction", physical, template, monkeypatch, calls) as used["RetentionFunction"]:
        answer = load_handler_module("RetentionFunction").lambda_handler({"Records": [sqs_record(m) for m in changes]}, LambdaContext())
        assert answer["batchItemFailures"] == [], answer
    with running("ArchiveFunction", physical, template, monkeypatch, calls) as used["ArchiveFunction"]:
        load_handler_module("ArchiveFunction").lambda_handler(stream_event(entries), LambdaContext())
    from activitylog.archive import layout
    from activitylog.archive.lines import INSERT, version_line
    from activitylog.archive.store import ArchiveStore
    from activitylog.entry import Entry, EntryType, Status
    from activitylog.ids import new_id

    old = Entry(new_id(datetime.now(timezone.utc) - timedelta(days=60)), EntryType.SYSTEM_EVENT, Status.SUCCESS,
                {"kind": "system", "id": "system", "name": "system"}, "synced", "SYNC", None)
    line = version_line("org_roles", old, "1".zfill(21), INSERT, datetime.now(timezone.utc))
    ArchiveStore(physical["ArchiveBucket"]).put_lines(layout.data_key("org_roles", old.id, line.sequence), [line], "2555d")
    with running("CompactFunction", physical, template, monkeypatch, calls) as used["CompactFunction"]:
        done = load_handler_module("CompactFunction").lambda_handler({}, LambdaContext(timeout=900))
        assert done["files"] == 1, done  # the 60-day-old entry: listed, read, written to the warm bucket
    with running("DigestFunction", physical, template, monkeypatch, calls) as used["DigestFunction"]:
        until = (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()
        load_handler_module("DigestFunction").lambda_handler({"until": until}, LambdaContext())
    with running("WebhookFunction", physical, template, monkeypatch, calls) as used["WebhookFunction"]:
        url = "https://hooks.example.com/webhooks/stripe/org_roles"
        body, headers = signed_delivery("stripe", "whsec_roles", provider_event("stripe", "evt_roles", "payment_intent.succeeded"), url)
        event = api_event("POST", "/webhooks/stripe/org_roles", body=body.decode(), headers={**headers, "host": "hooks.example.com"})
        answer = load_handler_module("WebhookFunction").lambda_handler(event, LambdaContext())
        assert answer["statusCode"] == 200, answer
        forged = api_event("POST", "/webhooks/stripe/org_roles", body=body.decode(),
                           headers={**headers, "stripe-signature": "t=1,v1=00", "host": "hooks.example.com"})
        for _ in range(10):  # past the minute's quota of warnings (in one minute at least): counted for the summary
            assert load_handler_module("WebhookFunction").lambda_handler(forged, LambdaContext())["statusCode"] == 400  # recorded
    with running("SweeperFunction", physical, template, monkeypatch, calls) as used["SweeperFunction"]:
        common.service().clock = lambda: datetime.now(timezone.utc) + timedelta(minutes=2)  # the minute is over
        assert load_handler_module("SweeperFunction").lambda_handler({}, LambdaContext())["rejection_summaries"] >= 1
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=physical["WebhookQueue"], MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    with running("IngestFunction", physical, template, monkeypatch, calls) as used["IngestFunction"]:
        answer = load_handler_module("IngestFunction").lambda_handler({"Records": [sqs_record(m) for m in messages]}, LambdaContext())
        assert answer["batchItemFailures"] == [], answer
    from activitylog.ids import new_id
    from activitylog.jobs.events import JOB_FINISHED, JOB_STARTED, activity_event

    run_id = new_id(datetime.now(timezone.utc))
    for detail_type, sequence, status in ((JOB_STARTED, 1, "IN_PROGRESS"), (JOB_FINISHED, 2, "SUCCESS")):
        sent = activity_event("org_roles", run_id, dict(entry, status=status), detail_type=detail_type, sequence=sequence)
        sqs.send_message(QueueUrl=physical["ActivityEventsQueue"], MessageBody=json.dumps(eventbridge_event(sent)))
    messages = sqs.receive_message(QueueUrl=physical["ActivityEventsQueue"], MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    with running("ActivityEventsFunction", physical, template, monkeypatch, calls) as used["ActivityEventsFunction"]:
        answer = load_handler_module("ActivityEventsFunction").lambda_handler({"Records": [sqs_record(m) for m in messages]}, LambdaContext())
        assert answer["batchItemFailures"] == [], answer
    with running("SupportFunction", physical, template, monkeypatch, calls) as used["SupportFunction"]:
        call("SupportFunction", "GET", f"/support/activities/{started['id']}", "activity:support", query={"reason": "ticket 1"})
        event = api_event("GET", f"/support/activities/{started['id']}/proof", query={"reason": "ticket 1"},
                          claims=claims(org="org_roles", sub="u_admin", scope="activity:support"))
        answer = load_handler_module("SupportFunction").lambda_handler(event, LambdaContext())
        assert answer["statusCode"] in (200, 409), answer  # 409: moto's KMS signs a DIGEST as a raw message, so no key holds
    # Streams: an admin's settings (the secret to Secrets Manager), the fan-out from the table's stream, a delivery to
    # a real receiver on 127.0.0.1, a failing one held back (ChangeMessageVisibility), then paused with its email.
    from activitylog.streams import delivery as delivery_module
    from tests.support.streams import SECRET, Receiver

    receiver = Receiver()
    try:
        monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "1")
        with running("SettingsFunction", physical, template, monkeypatch, calls) as used["StreamSettings"]:
            monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "1")  # the local stack's flag: a receiver on 127.0.0.1
            created = call("SettingsFunction", "POST", "/settings/streams", "activity:admin",
                           {"name": "SIEM", "destination": {"kind": "https", "url": receiver.url}, "secret": SECRET,
                            "notify_email": "admin@roles.example"})
            path = f"/settings/streams/{created['id']}"
            call("SettingsFunction", "GET", "/settings/streams", "activity:admin")
            call("SettingsFunction", "PATCH", path, "activity:admin", {"secret": SECRET, "name": "SIEM 2"})
            assert call("SettingsFunction", "POST", path + "/test", "activity:admin")["ok"]
            call("SettingsFunction", "POST", path + "/pause", "activity:admin")
            call("SettingsFunction", "POST", path + "/resume", "activity:admin")
            call("SettingsFunction", "POST", path + "/backfill", "activity:admin", {"days": 1})
        fresh = [r for r in stream.records() if r not in records]
        with running("StreamFanoutFunction", physical, template, monkeypatch, calls) as fanned:
            load_handler_module("StreamFanoutFunction").lambda_handler(stream_event(fresh), LambdaContext())
        used["StreamFanoutFunction"] += fanned
        for failing in (False, True):
            receiver.status = 500 if failing else 200
            if failing:  # something new to send
                with running("RecordFunction", physical, template, monkeypatch, calls):
                    call("RecordFunction", "POST", "/activities", "activity:write", dict(entry, metadata={}))
                newer = [r for r in stream.records() if r not in records + fresh]
                with running("StreamFanoutFunction", physical, template, monkeypatch, calls) as more:
                    load_handler_module("StreamFanoutFunction").lambda_handler(stream_event(newer), LambdaContext())
                used["StreamFanoutFunction"] += more
            messages = sqs.receive_message(QueueUrl=physical["StreamDeliveries"], MaxNumberOfMessages=10,
                                           AttributeNames=["All"]).get("Messages", [])
            assert messages, failing
            with running("StreamDeliveryFunction", physical, template, monkeypatch, calls) as seen:
                monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "1")
                monkeypatch.setattr(delivery_module, "PAUSE_AFTER", timedelta(0) if failing else timedelta(hours=24))
                answer = load_handler_module("StreamDeliveryFunction").lambda_handler(
                    {"Records": [sqs_record(m) for m in messages]}, LambdaContext())
                if not failing:
                    assert answer["batchItemFailures"] == [], answer
            for message in messages:  # Lambda's poller deletes what succeeded: the lane opens again
                if not failing:
                    sqs.delete_message(QueueUrl=physical["StreamDeliveries"], ReceiptHandle=message["ReceiptHandle"])
            used.setdefault("StreamDeliveryFunction", []).extend(seen)
        assert receiver.events
    finally:
        receiver.close()
    assert any(action == "ses:SendEmail" for _, action in used["StreamDeliveryFunction"])  # the pause's email
    used["SettingsFunction"] += used.pop("StreamSettings")
    # Alerts: a member's alert (its signing secret made), the fan-out opening its window, the alerts function telling it.
    from activitylog.alerts import windows as windows_module
    from tests.support.alerts import AlertReceiver

    monkeypatch.setattr(windows_module, "GATHER", timedelta(0))  # due at once: SQS's delay is not this test's
    receiver = AlertReceiver()
    try:
        with running("SettingsFunction", physical, template, monkeypatch, calls) as alert_settings:
            monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "1")
            created = call("SettingsFunction", "POST", "/alerts", "activity:read",
                           {"name": "Failures", "filter": {"status": ["FAILED"]},
                            "destination": {"kind": "https", "url": receiver.url}, "secret": SECRET})
            call("SettingsFunction", "GET", "/alerts", "activity:read")
            call("SettingsFunction", "PATCH", f"/alerts/{created['id']}", "activity:read", {"name": "Failures 2"})
        used["SettingsFunction"] += alert_settings
        with running("RecordFunction", physical, template, monkeypatch, calls):
            call("RecordFunction", "POST", "/activities", "activity:write", dict(entry, status="FAILED", metadata={}))
        seen_before = records + fresh
        newest = [r for r in stream.records() if r not in seen_before]
        with running("StreamFanoutFunction", physical, template, monkeypatch, calls) as more:
            load_handler_module("StreamFanoutFunction").lambda_handler(stream_event(newest), LambdaContext())
        used["StreamFanoutFunction"] += more
        messages = sqs.receive_message(QueueUrl=physical["AlertWindows"], MaxNumberOfMessages=10).get("Messages", [])
        assert messages
        with running("AlertsFunction", physical, template, monkeypatch, calls) as used["AlertsFunction"]:
            monkeypatch.setenv("STREAMS_ALLOW_LOOPBACK", "1")
            answer = load_handler_module("AlertsFunction").lambda_handler(
                {"Records": [sqs_record(m) for m in messages]}, LambdaContext())
            assert answer["batchItemFailures"] == [], answer
        assert receiver.documents
    finally:
        receiver.close()

    # The data subjects' keys were made, read and destroyed here (activitylog.privacy): their grants were checked too.
    assert {("SubjectKeyTable", "dynamodb:DeleteItem"), ("ServiceKey", "kms:GenerateDataKey")} <= set(used["SettingsFunction"])
    assert ("SubjectKeyTable", "dynamodb:BatchGetItem") in used["QueryFunction"]
    for function, seen in used.items():
        assert seen, f"{function} made no AWS call: the scenario did not exercise it"
        for resource, action in sorted(set(seen)):
            if resource == STREAM_SECRETS:
                assert action in {a for st in _role_statements(transformed, function) if STREAM_SECRETS in repr(st.get("Resource"))
                                  for a in _as_list(st["Action"])}, f"{function} calls {action} on a stream's secret"
                continue
            if resource == ALERT_SECRETS:
                assert action in {a for st in _role_statements(transformed, function) if ALERT_SECRETS in repr(st.get("Resource"))
                                  for a in _as_list(st["Action"])}, f"{function} calls {action} on an alert's secret"
                continue
            granted = _all_actions(transformed, function) if resource in ("ssm", "ses") else _granted(transformed, function, resource)
            # IAM's wildcards match as IAM matches them (kms:GenerateDataKey* grants kms:GenerateDataKey)
            assert any(fnmatch.fnmatchcase(action, a) for a in granted), f"{function} calls {action} on {resource}, which its role does not grant"
