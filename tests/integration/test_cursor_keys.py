"""The cursor key in Secrets Manager (moto): rotation never breaks paging between containers.

Each ``SecretsManagerKey`` stands for one Lambda container's cached view of the secret.
A rotation is ``put_secret_value``: the new value becomes AWSCURRENT and the old one
AWSPREVIOUS, as Secrets Manager's rotation does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import boto3
import pytest
import time_machine
from moto import mock_aws

from activitylog.query import cursor
from activitylog.config import SecretsManagerKey
from activitylog.errors import BadRequest

NAME = "activity-log/cursor-key"
POS, LOW, HIGH = "01M8AP55CB939ADHT5N4N8XQT2", "01M8A000000000000000000000", "01M8AZZZZZZZZZZZZZZZZZZZZZ"


@pytest.fixture
def secrets():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name=NAME, SecretString="key-1")
        yield client


def rotate(client, value: str) -> None:
    client.put_secret_value(SecretId=NAME, SecretString=value)


def sign(key) -> str:
    return cursor.encode(key, "org_1", "digest", POS, (LOW, HIGH))


def pages(key, token: str) -> bool:
    return cursor.decode(key, token, "org_1", "digest").position == POS


def test_a_cursor_signed_before_a_rotation_still_pages(secrets):
    # Given a cursor signed with the key of the day
    token = sign(SecretsManagerKey(NAME))

    # When the secret rotates and a new container reads it
    rotate(secrets, "key-2")
    fresh = SecretsManagerKey(NAME)

    # Then the new container signs with the new key and still accepts the old cursor (AWSPREVIOUS)
    assert fresh.signing_key() == b"key-2"
    assert pages(fresh, token)


def test_a_cursor_signed_two_rotations_ago_is_refused(secrets):
    token = sign(SecretsManagerKey(NAME))
    rotate(secrets, "key-2")
    rotate(secrets, "key-3")

    with pytest.raises(BadRequest) as caught:
        cursor.decode(SecretsManagerKey(NAME), token, "org_1", "digest")

    assert caught.value.field == "cursor"


def test_a_container_that_has_not_seen_the_rotation_accepts_a_cursor_signed_after_it(secrets):
    # Given container A has cached the key before a rotation
    old_container = SecretsManagerKey(NAME)
    old_cursor = sign(old_container)
    rotate(secrets, "key-2")

    # When container B, started after the rotation, hands out a cursor
    new_container = SecretsManagerKey(NAME)
    new_cursor = sign(new_container)

    # Then each container pages the other's cursor: A fetches the secret again rather than refuse
    assert pages(old_container, new_cursor)
    assert pages(new_container, old_cursor)
    assert old_container.signing_key() == b"key-2"


def test_a_secret_never_rotated_has_no_previous_key_and_still_refuses_a_foreign_cursor(secrets):
    token = cursor.encode(cursor.StaticKey(b"someone-else"), "org_1", "digest", POS, (LOW, HIGH))

    with pytest.raises(BadRequest):
        cursor.decode(SecretsManagerKey(NAME), token, "org_1", "digest")


def test_the_cached_key_is_fetched_again_after_its_max_age(secrets):
    # Given a container that read the key, then a rotation
    container = SecretsManagerKey(NAME, max_age=300)
    assert container.signing_key() == b"key-1"
    rotate(secrets, "key-2")

    # Then within max_age it keeps its cached key (no call per request)
    with time_machine.travel(datetime.now() + timedelta(seconds=299), tick=False):
        assert container.signing_key() == b"key-1"
    # And past max_age it signs with the rotated key, without a restart
    with time_machine.travel(datetime.now() + timedelta(seconds=301), tick=False):
        assert container.signing_key() == b"key-2"
