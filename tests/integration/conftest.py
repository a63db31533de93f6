"""The integration tier's shared fixtures: the API's functions, quick retries, the webhook world, the
template before and after the SAM transform, the archive's world and the platform's bus and queues. Their helpers are in tests/support."""

from __future__ import annotations

import copy
from unittest.mock import MagicMock

import boto3
import pytest
from moto import mock_aws

from activitylog import store, wiring
from activitylog.archive.signing import LocalSigner
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.service import ActivityService
from samlocal.template import load
from tests.integration.streams import TableStream
from tests.support.api import Api
from tests.support.digests import ARCHIVE, DIGESTS, World
from tests.support.faults import MOTO
from tests.support.platform import Platform
from tests.support.template import _packaged
from tests.support.webhooks import Webhooks


@pytest.fixture
def api(activity_table, monkeypatch):
    """The API's functions, their lazily built service pointed at this test's table."""
    monkeypatch.setenv("TABLE_NAME", activity_table)
    monkeypatch.delenv("ORG_SETTINGS", raising=False)
    monkeypatch.setenv("PROVIDER_KEYS_PATH", "/test/provider-keys")  # the recovery route's (read only where a test needs it)
    wiring.reset()
    yield Api()
    wiring.reset()


@pytest.fixture
def platform(activity_table, monkeypatch):
    """The platform's bus and rules with their queues (moto), the table DynamoDB Local's: ``Platform``."""
    with mock_aws(config=MOTO):
        monkeypatch.setenv("TABLE_NAME", activity_table)
        monkeypatch.setenv("ACTIVITY_BUS_NAME", "platform")
        monkeypatch.delenv("ORG_SETTINGS", raising=False)
        platform = Platform()
        monkeypatch.setenv("ACTIVITY_QUEUE_URL", platform.activity_queue[0])
        wiring.reset()  # the retry function's publisher and the activity events function's, built in this container
        yield platform
        wiring.reset()


@pytest.fixture
def quick_backoff(monkeypatch):
    monkeypatch.setattr(store.retries, "BACKOFF_BASE", 0.001)


@pytest.fixture
def hooks(activity_table, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config=MOTO):
        yield Webhooks(activity_table)


@pytest.fixture(scope="module")
def template() -> dict:
    return copy.deepcopy(load())


@pytest.fixture(scope="module")
def transformed(template) -> dict:
    """template.yaml as CloudFormation sees it after the SAM transform."""
    from samtranslator.translator.transform import transform

    managed_policies = MagicMock()  # stands in for the IAM client the ManagedPolicyLoader would call
    managed_policies.load.return_value = {}
    return transform(_packaged(template), {"AWS::Region": "us-east-1"}, managed_policies)


@pytest.fixture
def world(activity_table, dynamodb_client, monkeypatch, tmp_path):
    """S3 with the archive and the Object Lock digest bucket, a local signing key, a service and its stream."""
    with mock_aws(config=MOTO):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=ARCHIVE)
        s3.create_bucket(Bucket=DIGESTS, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(Bucket=DIGESTS, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
        for name, value in {"TABLE_NAME": activity_table, "ARCHIVE_BUCKET": ARCHIVE, "RETENTION_CACHE_SECONDS": "0"}.items():
            monkeypatch.setenv(name, value)
        from activitylog import wiring

        wiring.reset()
        service = ActivityService(Settings(table_name=activity_table, detail_bucket=None, cursor_secret="x", policy_seconds=0),
                                  store.EntryStore(DetailStore(None)))
        yield World(s3, service, TableStream(dynamodb_client, activity_table), LocalSigner(tmp_path / "key.pem", "test-key"))
        wiring.reset()
