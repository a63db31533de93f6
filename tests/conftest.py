"""Shared fixtures: one DynamoDB Local per test session, a fresh table per test module.

The table is created from template.yaml's own definition; there is no second copy of
the key schema here.
"""

from __future__ import annotations

import os
import uuid

import pytest

# Local settings before any domain import reads them.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_DEV", "false")
os.environ.setdefault("CURSOR_SECRET", "test-cursor-secret")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")


def _one_botocore_loader() -> None:
    """Each new botocore session makes a loader that lists and parses the service models again: store.bind per
    test made that half the integration tier's time. Sessions share one loader here, as the clients of one
    session share theirs in botocore. A Lambda container binds once, so the service keeps botocore's behaviour."""
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


_one_botocore_loader()


@pytest.fixture(scope="session")
def dynamodb_local():
    """Amazon DynamoDB Local (the npm package's jar) on a free port, in memory."""
    from samlocal.dynamodb import DynamoDBLocal

    with DynamoDBLocal() as ddb:
        previous = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint
        yield ddb
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        else:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = previous


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_local):
    import boto3

    return boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint)


@pytest.fixture
def activity_table(dynamodb_client):
    """A new table, exactly as template.yaml declares it, bound to the store; dropped after."""
    from activitylog import store
    from samlocal.template import create_table

    name = f"activity-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_client, name)
    store.bind(name)
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def idempotency_table(dynamodb_client, monkeypatch):
    """Powertools' idempotency table, as template.yaml declares it, named in IDEMPOTENCY_TABLE."""
    from activitylog import wiring
    from samlocal.template import create_table

    name = f"idempotency-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_client, name, logical_id="IdempotencyTable")
    monkeypatch.setenv("IDEMPOTENCY_TABLE", name)
    wiring.reset()
    yield name
    wiring.reset()
    dynamodb_client.delete_table(TableName=name)



@pytest.fixture
def support_reads(monkeypatch):
    """``activitylog archive query`` and ``prove`` record the read in the org's log through the API before they read a
    bucket (README "Access transparency"). Tiers that run no API take the record here, as (method, path, body) in
    the org the command names: they test what the command reads; tests/e2e/test_access_cli.py what it records."""
    from activitylog_local import cli

    seen: list[tuple] = []

    def record(args, method, path, body=None):
        seen.append((method, path, body))
        return {"id": "recorded", "org_id": args.org}

    monkeypatch.setattr(cli, "_record_support_read", record)
    return seen
