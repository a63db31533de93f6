"""Support's archive query over both parts of the archive (issue 20, item 5): the days compaction covers are read
from the org's warm Parquet files, the raw gzip JSON lines only for the days after them, and the answer is the
one the raw archive alone gives (each entry's latest version, how many versions, when it expired or was removed).

S3 is moto: the archive written as the archive function writes it (objects by org, day and hour, a manifest per
batch), signed by the digest job, compacted by the compaction job into its own bucket.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from activitylog import ids
from activitylog.archive import layout
from activitylog.archive.digests import Digester
from activitylog.archive.lines import EXPIRE, INSERT, MODIFY, REMOVE, version_line
from activitylog.support.archive_query import mirror, mirror_warm, query, raw_window
from activitylog.archive.signing import LocalSigner
from activitylog.archive.store import ArchiveStore, S3Objects
from activitylog.archive.writer import manifest_body, objects_of
from activitylog.entry import Entry, EntryType, Status
from activitylog.query.filters import parse_list_request
from activitylog.warm import compact
from tests.support.warm import Reads, compact_through

ARCHIVE, DIGESTS, WARM = "test-archive", "test-digests", "test-warm"
ORG, OTHER = "org/support", "org_other"  # a slash: keys percent-encode it
TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
THROUGH = (TODAY - timedelta(days=25)).date()  # compacted up to and including this day
TYPES = list(EntryType)
STATUSES = [Status.SUCCESS, Status.SUCCESS, Status.FAILED, Status.WARNING, Status.IN_PROGRESS]


def span(first: date, last: date, **filters: str) -> dict:
    return {"from": f"{first.isoformat()}T00:00:00+00:00", "to": f"{last.isoformat()}T23:59:59+00:00", **filters}


AROUND = span(THROUGH - timedelta(days=12), THROUGH + timedelta(days=9))  # compacted days and raw ones
FILTERS = [
    AROUND,
    {**AROUND, "type": "BACKGROUND_JOB"},
    {**AROUND, "type": "USER_ACTION,WEBHOOK", "status": "SUCCESS"},
    {**AROUND, "status": "FAILED,WARNING"},
    {**AROUND, "user": "u_2"},
    {**AROUND, "user": "u_1", "type": "USER_ACTION", "entity_type": "contact"},
    {**AROUND, "entity_type": "product", "status": "FAILED"},
    {**AROUND, "entity_type": "contact", "entity_id": "c_3"},
    {**AROUND, "user": "u_nobody"},
    span(THROUGH, THROUGH + timedelta(days=1)),  # the boundary's two days
    span(THROUGH - timedelta(days=30), THROUGH - timedelta(days=2), status="FAILED"),  # only compacted days
    span(THROUGH + timedelta(days=1), THROUGH + timedelta(days=20)),  # only raw days
]


@pytest.fixture
def s3(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=ARCHIVE)
        client.create_bucket(Bucket=WARM)
        client.create_bucket(Bucket=DIGESTS, ObjectLockEnabledForBucket=True)
        client.put_object_lock_configuration(
            Bucket=DIGESTS,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
        yield client


class Archive:
    """Versions archived as the archive function does: one object per org, day and hour of a batch, then its manifest;
    the digest job signs what was written."""

    def __init__(self, s3, signer: LocalSigner) -> None:
        self.bucket, self.seq, self.signer = ArchiveStore(ARCHIVE, s3), 0, signer
        self.digests = S3Objects(DIGESTS, s3)

    def batch(self, versions: list[tuple[str, Entry, str]]) -> None:
        lines = []
        for org, made, change in versions:
            self.seq += 1
            lines.append(version_line(org, made, f"{self.seq:021d}", change, made.occurred_at + timedelta(hours=1)))
        placed = []
        for key, group in objects_of(lines).items():
            self.bucket.put_lines(key, group, "2555d")
            placed += [(key, line) for line in group]
        self.bucket.put(layout.manifest_key(datetime.now(timezone.utc), lines[0].sequence), manifest_body(placed))

    def sign(self) -> None:
        Digester(self.bucket, self.digests, self.signer).run(datetime.now(timezone.utc) + timedelta(seconds=1))


def entries_of(day: date, org: str = ORG, per_day: int = 6) -> list[Entry]:
    made = []
    for n in range(per_day):
        k = day.toordinal() * per_day + n
        moment = datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(hours=n * 4, minutes=k % 60)
        user = (k // 3) % 3 != 0
        made.append(
            Entry(
                ids.new_id(moment),
                TYPES[k % 4],
                STATUSES[(k // 4) % 5],
                {"kind": "user", "id": f"u_{(k // 5) % 4}", "name": "Ann"}
                if user
                else {"kind": "system", "id": "system", "name": "system"},
                "updated",
                f"event {k}",
                {"type": ("contact", "product", "release")[(k // 7) % 3], "id": f"c_{(k // 2) % 5}", "label": "Alex"}
                if k % 7
                else None,
                correlation_id=f"run_{k % 3}",
            )
        )
    return made


def archive_days(archive: Archive, first: date, last: date) -> list[Entry]:
    """Each day's entries of both orgs, some updated (a job finishing), some expired from the table, some removed."""
    made, day = [], first
    while day <= last:
        mine = entries_of(day)
        versions = [(ORG, e, INSERT) for e in mine] + [(OTHER, e, INSERT) for e in entries_of(day, OTHER, 2)]
        for n, e in enumerate(mine):
            k = day.toordinal() + n
            if k % 4 == 0:
                versions.append((ORG, Entry(**(vars(e) | {"status": Status.FAILED, "version": 2})), MODIFY))
            if k % 5 == 0:
                versions.append((ORG, e, EXPIRE))
            elif k % 9 == 0:
                versions.append((ORG, e, REMOVE))
        archive.batch(versions)
        made += mine
        day += timedelta(days=1)
    archive.sign()
    return made


@pytest.fixture
def seeded(s3, tmp_path, monkeypatch):
    """Sixty days of the org: compacted through THROUGH (small files, so a week is a few of them), raw after it."""
    monkeypatch.setattr(compact, "FILE_ROWS", 24)
    archive = Archive(s3, LocalSigner(tmp_path / "kms" / "local-key.pem", "local-key"))
    archive_days(archive, (TODAY - timedelta(days=60)).date(), THROUGH)
    files = compact_through(S3Objects(ARCHIVE, s3), S3Objects(WARM, s3), ORG, THROUGH, row_group_rows=8)
    assert len(files) >= 6
    archive_days(archive, THROUGH + timedelta(days=1), (TODAY - timedelta(days=1)).date())
    return files


def raw_only(s3, params: dict, into: Path) -> list[dict]:
    """What the query answered before the warm tier: every day from the raw archive."""
    wanted = parse_list_request(params).filter
    mirror(S3Objects(ARCHIVE, s3), ORG, *wanted.window(TODAY), into)
    return query(into, ORG, wanted, TODAY)


def tiered(archive, warm, params: dict, into: Path) -> list[dict]:
    wanted = parse_list_request(params).filter
    found = mirror_warm(warm, ORG, wanted, TODAY, into / "warm-files")
    raw = raw_window(found.through if found else None, *wanted.window(TODAY))
    if raw is not None:
        mirror(archive, ORG, *raw, into)
    return query(into, ORG, wanted, TODAY, warm=found)


def test_a_window_across_compacted_and_raw_days_answers_the_rows_the_raw_archive_alone_gives(s3, seeded, tmp_path):
    # Given the org compacted through THROUGH, and raw days after it
    answered = 0
    for number, params in enumerate(FILTERS):
        # When support queries a window with a filter, from the warm files and the raw days after them
        expected = raw_only(s3, params, tmp_path / f"raw-{number}")
        rows = tiered(S3Objects(ARCHIVE, s3), S3Objects(WARM, s3), params, tmp_path / f"tiered-{number}")
        # Then the rows are the raw archive's, column for column, newest first
        assert rows == expected, params
        answered += bool(expected)
    assert answered >= len(FILTERS) - 1  # only u_nobody finds nothing
    around = raw_only(s3, AROUND, tmp_path / "around")
    # and the window holds what makes the rows differ: finished jobs, expired and removed entries, on both sides
    for side in (lambda row: row["id"] < compact_first_raw(), lambda row: row["id"] >= compact_first_raw()):
        mine = [row for row in around if side(row)]
        assert any(row["versions"] == 2 and row["status"] == "FAILED" for row in mine)
        assert any(row["expired_at"] for row in mine) and any(row["removed_at"] for row in mine)
        assert any(row["entity"] is None for row in mine)
    # A limit keeps the newest.
    wanted = parse_list_request(AROUND).filter
    warm = mirror_warm(S3Objects(WARM, s3), ORG, wanted, TODAY, tmp_path / "limited")
    assert query(tmp_path / "tiered-0", ORG, wanted, TODAY, limit=40, warm=warm) == around[:40]


def compact_first_raw() -> str:
    return ids.lower_bound(datetime.combine(THROUGH + timedelta(days=1), datetime.min.time(), timezone.utc))


def test_a_week_opens_only_the_warm_files_of_that_week_and_no_raw_day_compaction_covers(s3, seeded, tmp_path):
    archive, warm = Reads(S3Objects(ARCHIVE, s3)), Reads(S3Objects(WARM, s3))
    week = span(THROUGH - timedelta(days=4), THROUGH + timedelta(days=2))
    low, high = parse_list_request(week).filter.window(TODAY)
    # The files whose ids meet the week's compacted days: what the week must open, and no more.
    needed = {f.key for f in seeded if f.max_id >= ids.lower_bound(low) and f.min_id < compact_first_raw()}
    assert 0 < len(needed) < len(seeded) / 2

    rows = tiered(archive, warm, week, tmp_path / "week")

    assert rows == raw_only(s3, week, tmp_path / "raw")
    assert set(warm.read) == needed | {compact.manifest_key(ORG)}
    days = {key.split("/date=")[1][:10] for key in archive.read}
    assert days and min(days) == (THROUGH + timedelta(days=1)).isoformat()  # raw objects of the days after it only
    # A week compaction covers reads no raw object at all; a filter no file's summary holds opens no file.
    archive.read.clear()
    warm.read.clear()
    earlier = span(THROUGH - timedelta(days=12), THROUGH - timedelta(days=6))
    assert tiered(archive, warm, earlier, tmp_path / "earlier") == raw_only(s3, earlier, tmp_path / "raw-earlier")
    assert archive.read == [] and 0 < len(warm.read) - 1 < len(needed) + 2
    warm.read.clear()
    assert tiered(archive, warm, {**earlier, "user": "u_nobody"}, tmp_path / "nobody") == []
    assert warm.read == [compact.manifest_key(ORG)]


def test_before_a_manifest_says_how_far_it_got_the_raw_archive_answers_everything(s3, seeded, tmp_path):
    # Given a manifest without "through" (a compaction from before the contract): the warm tier counts as empty
    key = compact.manifest_key(ORG)
    manifest = json.loads(S3Objects(WARM, s3).get(key))
    del manifest["through"]
    S3Objects(WARM, s3).put(key, json.dumps(manifest).encode())
    archive = Reads(S3Objects(ARCHIVE, s3))
    rows = tiered(archive, S3Objects(WARM, s3), AROUND, tmp_path / "tiered")
    assert rows == raw_only(s3, AROUND, tmp_path / "raw") and rows
    assert min(key.split("/date=")[1][:10] for key in archive.read) == AROUND["from"][:10]


# -- the command line ------------------------------------------------------------------------------------------


def dump(s3, bucket: str, folder: Path) -> None:
    """A bucket saved as a stopped local stack keeps it: one file per key."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            path = folder / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())


def test_the_archive_query_command_reads_compacted_days_from_the_warm_files(s3, seeded, tmp_path, monkeypatch, capsys,
                                                                           support_reads):
    from activitylog_local import archive as local_archive
    from activitylog_local.cli import main

    # Given a stopped local stack's buckets: the archive (signed), its digests and the warm files
    for bucket, name in ((ARCHIVE, "archivebucket"), (DIGESTS, "digestbucket"), (WARM, "warmbucket")):
        dump(s3, bucket, tmp_path / "s3" / f"activitylog-local-{name}")
    read: list[str] = []
    get = local_archive.FolderObjects.get
    monkeypatch.setattr(local_archive.FolderObjects, "get", lambda self, key: read.append(key) or get(self, key))
    expected = raw_only(s3, AROUND, tmp_path / "raw")
    window = ["--from", AROUND["from"], "--to", AROUND["to"]]

    def answered(*more: str) -> list[dict]:
        read.clear()
        code = main(["--data-dir", str(tmp_path), "archive", "query", "--org", ORG, *window, "--json", *more,
                     "--reason", "ticket 4312"])
        assert code == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    # When support runs the query, Then it answers the raw archive's entries, each checked by a signed digest
    rows = answered()
    assert [(r["id"], r["status"], r["versions"], r["expired_at"]) for r in rows] == [
        (r["id"], r["status"], r["versions"], r["expired_at"]) for r in expected
    ]
    # reading the compacted days from the warm files, and no raw object (nor digest) of those days
    data = [key for key in read if key.startswith(layout.ARCHIVE_PREFIX)]
    assert any(key.startswith(compact.WARM_PREFIX) and key.endswith(".parquet") for key in read)
    assert data and min(key.split("/date=")[1][:10] for key in data) == (THROUGH + timedelta(days=1)).isoformat()
    # --raw reads every day from the raw archive, as before, and answers the same
    assert [r["id"] for r in answered("--raw")] == [r["id"] for r in expected]
    assert not any(key.startswith(compact.WARM_PREFIX) for key in read)
    assert (
        min(key.split("/date=")[1][:10] for key in read if key.startswith(layout.ARCHIVE_PREFIX)) == AROUND["from"][:10]
    )


def test_athenas_warm_table_declares_the_compacted_files_columns_and_finds_them_where_compaction_puts_them(
    s3, seeded, tmp_path
):
    import duckdb

    from samlocal.template import load

    table = load()["Resources"]["WarmTable"]["Properties"]["TableInput"]
    path = tmp_path / "one.parquet"
    path.write_bytes(S3Objects(WARM, s3).get(seeded[0].key) or b"")
    described = duckdb.connect().execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    kinds = {"VARCHAR": "string", "BIGINT": "bigint", "BOOLEAN": "boolean"}
    declared = [(column["Name"], column["Type"]) for column in table["StorageDescriptor"]["Columns"]]
    assert declared == [(name, kinds[kind]) for name, kind, *_ in described]
    # org and period projected into the location give the folder of each file the manifest lists, not the manifest
    location = table["Parameters"]["storage.location.template"]["Fn::Sub"]
    folders = set()
    for file in seeded:
        folder = location.replace("${!org}", layout.org_part(ORG)).replace("${!period}", file.period)
        url = f"s3://${{WarmBucket}}/{file.key}"
        assert url.startswith(folder) and "/" not in url[len(folder) :]
        folders.add(folder)
    assert not any(f"s3://${{WarmBucket}}/{compact.manifest_key(ORG)}".startswith(folder) for folder in folders)
