"""Tamper evidence: the hourly digests over a real archive (entries written through the service
on DynamoDB Local, archived from its stream by the archive function, S3 and its Object Lock in
moto), and ``verify`` naming each record that was altered, deleted or added, each digest
dropped, and the newest hour cut off with its digest and head.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from activitylog import store
from activitylog.archive import layout
from activitylog.archive.digests import Digester, verify
from activitylog.archive.lines import INSERT, Line, version_line
from activitylog.archive.signing import LocalSigner
from activitylog.archive.store import S3Objects, pack_lines, unpack_lines
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.inputs import NewEntry
from activitylog.service import ActivityService, Caller
from activitylog_local.kit import LambdaContext

from .api_events import load_handler_module
from .streams import TableStream, stream_event

MOTO = {"core": {"passthrough": {"services": ["dynamodb"]}}}
WRITER = Caller("org_a", "svc", frozenset({"activity:write", "activity:read"}))
ARCHIVE, DIGESTS = "test-archive", "test-digests"
LONG_AGO = datetime.now(timezone.utc) - timedelta(days=3)


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
        from activitylog.config import settings

        settings.cache_clear()
        load_handler_module("ArchiveFunction").lambda_handler.reset()
        service = ActivityService(Settings(table_name=activity_table, detail_bucket=None, cursor_secret="x", policy_seconds=0),
                                  store.EntryStore(DetailStore(None)))
        yield World(s3, service, TableStream(dynamodb_client, activity_table), LocalSigner(tmp_path / "key.pem", "test-key"))
        load_handler_module("ArchiveFunction").lambda_handler.reset()
        settings.cache_clear()


class World:
    def __init__(self, s3, service, stream, signer) -> None:
        self.s3, self.service, self.stream, self.signer = s3, service, stream, signer
        self.archive, self.digests = S3Objects(ARCHIVE, s3), S3Objects(DIGESTS, s3)
        self.archived_until = None

    def record(self, count: int, hours_ago: float = 1) -> list[str]:
        base = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
        return [self.service.record(WRITER, NewEntry.model_validate({
            "type": "USER_ACTION", "status": "SUCCESS", "actor": {"kind": "user", "id": "u_1", "name": "Ann"},
            "action": "updated", "event": f"Contact updated {n}", "occurred_at": (base + timedelta(seconds=n)).isoformat(),
        })).id for n in range(count)]

    def archive_new(self) -> None:
        records = self.stream.records()
        event = stream_event(records, after=self.archived_until)
        if event["Records"]:
            load_handler_module("ArchiveFunction").lambda_handler(event, LambdaContext())
        self.archived_until = records[-1]["dynamodb"]["SequenceNumber"]

    def digest(self) -> dict:
        return Digester(self.archive, self.digests, self.signer).run(datetime.now(timezone.utc))

    def hour(self, ids: list[str]) -> None:
        """An hour's worth of the log: archive what was recorded, then digest it."""
        self.archive_new()
        self.digest()

    def verify(self, low=LONG_AGO, high=None):
        return verify(self.archive, self.digests, "org_a", low, high or datetime.now(timezone.utc) + timedelta(minutes=1),
                      lambda key_id: self.signer.public_key())

    def object_of(self, entry_id: str) -> tuple[str, list[Line]]:
        for key in self.archive.keys(layout.hour_prefix("org_a", entry_id)):
            lines = unpack_lines(self.archive.get(key))
            if any(line.entry_id == entry_id for line in lines):
                return key, lines
        raise AssertionError(f"{entry_id} is not archived")

    def rewrite(self, key: str, lines: list[Line]) -> None:
        self.s3.put_object(Bucket=ARCHIVE, Key=key, Body=pack_lines(lines))


def problems(report) -> list[tuple[str, str]]:
    return [(f.kind, f.entry_id or f.key) for f in report.problems]


def test_verify_passes_on_clean_data(world):
    ids = world.record(5)
    world.hour(ids)
    ids2 = world.record(3, hours_ago=0.5)
    world.hour(ids2)

    report = world.verify()

    assert report.ok, report.to_dict()
    assert (report.versions, report.digests) == (8, 2)
    head = json.loads(world.digests.get(layout.head_key("org_a")))
    newest = json.loads(world.digests.get(head["digest"]["key"]))
    assert (newest["count"], newest["sequence"], newest["first_id"], newest["last_id"]) == (3, 2, min(ids2), max(ids2))
    assert newest["previous"]["key"] < head["digest"]["key"]


def test_an_edited_line_is_named(world):
    ids = world.record(4)
    world.hour(ids)
    key, lines = world.object_of(ids[2])
    document = lines[[line.entry_id for line in lines].index(ids[2])].document
    document["event"] = "Contact updated (nothing to see here)"
    edited = [line if line.entry_id != ids[2] else Line.parse(json.dumps(document, sort_keys=True, separators=(",", ":"))) for line in lines]
    world.rewrite(key, edited)

    report = world.verify()

    assert problems(report) == [("altered", ids[2])]
    assert key in report.problems[0].message


def test_a_deleted_line_is_named(world):
    ids = world.record(4)
    world.hour(ids)
    key, lines = world.object_of(ids[1])
    world.rewrite(key, [line for line in lines if line.entry_id != ids[1]])

    assert problems(world.verify()) == [("missing", ids[1])]


def test_an_added_line_is_named(world):
    ids = world.record(3)
    world.hour(ids)
    key, lines = world.object_of(ids[0])
    forged_entry = world.service.store.get("org_a", ids[0], world.service.shards_read("org_a"))
    forged_entry.event = "Contact deleted"
    forged = version_line("org_a", forged_entry, "999999999999999999999", INSERT, datetime.now(timezone.utc))
    world.rewrite(key, lines + [forged])

    report = world.verify()

    assert problems(report) == [("inserted", ids[0])]
    assert report.problems[0].sequence == "999999999999999999999"


def test_a_dropped_digest_breaks_the_chain_and_is_named(world):
    first = world.record(2, hours_ago=3)
    world.hour(first)
    second = world.record(2, hours_ago=2)
    world.hour(second)
    third = world.record(2, hours_ago=1)
    world.hour(third)
    keys = sorted(world.digests.keys(layout.digest_prefix("org_a")))
    world.s3.delete_object(Bucket=DIGESTS, Key=keys[1])  # Object Lock keeps the version; a delete marker hides it

    report = world.verify()

    chain = [f for f in report.problems if f.kind == "chain"]
    assert [f.key for f in chain] == [keys[1]] and "missing" in chain[0].message
    # Its versions are in no signed digest any more: each is named.
    assert sorted(f.entry_id for f in report.problems if f.kind == "inserted") == sorted(second)


def test_the_newest_hour_truncated_is_caught_by_the_count_and_the_head(world):
    older = world.record(3, hours_ago=2)
    world.hour(older)
    head_before = world.digests.get(layout.head_key("org_a"))
    newest = world.record(3, hours_ago=0.2)
    world.hour(newest)
    assert world.verify().ok

    # The newest rows deleted: the newest digest's count and hashes name each one.
    for entry_id in newest:
        key, lines = world.object_of(entry_id)
        world.rewrite(key, [line for line in lines if line.entry_id != entry_id])
    assert sorted(problems(world.verify())) == sorted(("missing", i) for i in newest)

    # And the newest digest deleted too, the head put back as it was an hour ago: the head's own history shows it.
    newest_digest = json.loads(world.digests.get(layout.head_key("org_a")))["digest"]["key"]
    world.s3.delete_object(Bucket=DIGESTS, Key=newest_digest)
    world.s3.put_object(Bucket=DIGESTS, Key=layout.head_key("org_a"), Body=head_before)
    report = world.verify()
    assert [(f.kind, f.key) for f in report.problems] == [("head", newest_digest), ("chain", newest_digest)]
    assert "went back" in report.problems[0].message


def test_versions_after_the_newest_digest_are_pending_not_problems(world):
    world.hour(world.record(2))
    later = world.record(2, hours_ago=0.1)
    world.archive_new()

    report = world.verify()

    assert report.ok
    assert sorted(f.entry_id for f in report.findings if f.kind == "pending") == sorted(later)


def test_an_edited_digest_is_caught_by_its_successor_and_its_signature(world):
    ids = world.record(2, hours_ago=2)
    world.hour(ids)
    world.hour(world.record(1, hours_ago=1))
    first = sorted(world.digests.keys(layout.digest_prefix("org_a")))[0]
    document = json.loads(world.digests.get(first))
    document["records"][0]["sha256"] = "0" * 64
    world.s3.put_object(Bucket=DIGESTS, Key=first, Body=json.dumps(document).encode())

    kinds = {(f.kind, f.key) for f in world.verify().problems}

    assert ("digest", first) in kinds
    assert any("signature" in f.message for f in world.verify().problems)


def test_a_run_that_died_before_moving_the_head_is_picked_up_not_forked(world, monkeypatch):
    world.hour(world.record(2, hours_ago=2))
    world.record(2, hours_ago=1)
    world.archive_new()
    original = Digester._move_head
    monkeypatch.setattr(Digester, "_move_head", lambda *args: (_ for _ in ()).throw(ConnectionError("gone")))
    with pytest.raises(ConnectionError):
        world.digest()
    monkeypatch.setattr(Digester, "_move_head", original)

    world.hour(world.record(1, hours_ago=0.5))

    report = world.verify()
    assert report.ok, report.to_dict()
    assert report.digests == 3
