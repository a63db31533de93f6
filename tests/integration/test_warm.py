"""The warm tier's compaction against S3 (moto, the archive bucket read and the warm bucket written): the
archive's versions as Parquet files of bounded rows, each entry at its latest version; compaction day by day
fills few files with a full compaction's rows; a rerun writes nothing; a crash leaves the old ones answering;
the CompactFunction compacts every archived org through ``compactable_through``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import duckdb
import pytest
from moto import mock_aws

from activitylog.archive import layout
from activitylog.archive.lines import EXPIRE, INSERT, MODIFY, REMOVE, version_line
from activitylog.archive.store import ArchiveStore, S3Objects
from activitylog.entry import Entry, EntryType, Status
from activitylog.ids import new_id
from activitylog.query.filters import parse_list_request
from activitylog.warm import compact
from activitylog.warm.page import newest_first

BUCKET, WARM = "archive-bucket", "warm-bucket"
ORG = "org/warm"  # a slash: keys percent-encode it
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
THROUGH = NOW.date()  # every seeded day


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(aws):
    """The archive bucket (read)."""
    aws.create_bucket(Bucket=BUCKET)
    return ArchiveStore(BUCKET, aws)


@pytest.fixture
def warm(aws):
    """The warm bucket (written): derived data, in a bucket of its own."""
    aws.create_bucket(Bucket=WARM)
    return S3Objects(WARM, aws)


def full(archive, warm, org: str = ORG, **options) -> list[compact.WarmFile]:
    """A first compaction of every seeded day: the files, newest first."""
    return compact.compact(archive, warm, org, THROUGH, **options).files


class Archive:
    """Versions written as the archive writer writes them (``put_lines`` at ``layout.data_key``)."""

    def __init__(self, bucket: ArchiveStore) -> None:
        self.bucket, self.seq = bucket, 0

    def write(self, entry: Entry, change: str = INSERT, org: str = ORG) -> None:
        self.seq += 1
        line = version_line(org, entry, f"{self.seq:021d}", change, entry.occurred_at + timedelta(minutes=1))
        self.bucket.put_lines(layout.data_key(org, entry.id, line.sequence), [line], "2555d")


    def write_hours(self, entries: list[Entry]) -> None:
        """Many entries, one object per hour (as a busy batch window makes them)."""
        by_hour: dict[str, list] = {}
        for made in entries:
            self.seq += 1
            line = version_line(ORG, made, f"{self.seq:021d}", INSERT, made.occurred_at)
            by_hour.setdefault(layout.hour_prefix(ORG, made.id), []).append(line)
        for prefix, lines in by_hour.items():
            self.bucket.put_lines(f"{prefix}{lines[0].sequence}.jsonl.gz", lines, "2555d")


def entry(moment: datetime, n: int, **fields) -> Entry:
    values = {
        "type": EntryType.USER_ACTION if n % 2 else EntryType.WEBHOOK,
        "status": Status.SUCCESS,
        "actor": {"kind": "user", "id": f"u_{n % 3}", "name": "Ana"},
        "action": "updated",
        "event": "Contact updated",
        "entity": {"type": "contact", "id": f"c_{n % 5}", "label": "Alex"},
        "correlation_id": f"run_{n % 4}",
    }
    return Entry(new_id(moment), **(values | fields))


def seed(archive: Archive, months: int = 3, per_month: int = 40) -> list[Entry]:
    """``per_month`` entries in each of the ``months`` months before NOW, oldest first."""
    entries = []
    for month in range(months, 0, -1):
        start = NOW - timedelta(days=30 * month)
        for n in range(per_month):
            made = entry(start + timedelta(hours=n * 7 + 1), n)
            archive.write(made)
            entries.append(made)
    return entries


def rows(store: S3Objects, tmp_path: Path, org: str = ORG) -> list[dict]:
    """Every row of the files the org's manifest lists, in file order."""
    found = []
    for number, file in enumerate(compact.current(store, org)):
        path = tmp_path / f"read-{number}.parquet"
        path.write_bytes(store.get(file.key) or b"")
        cursor = duckdb.connect().execute("SELECT * FROM read_parquet(?)", [str(path)])
        names = [column[0] for column in cursor.description]
        found += [dict(zip(names, values)) for values in cursor.fetchall()]
    return found


def warm_keys(warm: S3Objects) -> list[str]:
    return sorted(warm.keys(compact.WARM_PREFIX))


def test_each_entry_is_one_row_at_its_latest_version_in_one_file_per_month_sorted_by_id(bucket, warm, tmp_path, monkeypatch):
    monkeypatch.setattr(compact, "FILE_ROWS", 40)  # a month's 40 entries fill a file: no two share one
    archive = Archive(bucket)
    entries = seed(archive)
    done, expired, removed = entries[3], entries[50], entries[90]
    archive.write(Entry(**(vars(done) | {"status": Status.FAILED, "version": 2})), MODIFY)
    archive.write(expired, EXPIRE)
    archive.write(removed, REMOVE)
    archive.write(entry(NOW - timedelta(days=40), 1), org="org_other")  # another org's entry stays out

    files = full(bucket, warm, ORG, row_group_rows=16)

    periods = sorted({e.occurred_at.strftime("%Y-%m") for e in entries}, reverse=True)
    assert [f.period for f in files] == periods  # newest month first, one file each
    assert all(f.key.startswith("warm/org=org%2Fwarm/") for f in files)
    assert [f.key for f in compact.current(warm, ORG)] == [f.key for f in files]
    found = rows(warm, tmp_path)
    assert sorted(r["id"] for r in found) == sorted(e.id for e in entries)  # every entry once, nothing else
    for file in files:  # each file sorted by id, its range as the manifest says
        mine = [r["id"] for r in found if file.min_id <= r["id"] <= file.max_id]
        assert mine == sorted(mine) and len(mine) == file.rows
    by_id = {r["id"]: r for r in found}
    assert (by_id[done.id]["status"], by_id[done.id]["version"], by_id[done.id]["versions"]) == ("FAILED", 2, 2)
    assert by_id[expired.id]["expired_at"] is not None and by_id[expired.id]["removed_at"] is None
    assert by_id[removed.id]["removed_at"] is not None
    assert (by_id[done.id]["actor_id"], by_id[done.id]["entity_type"], by_id[done.id]["correlation_id"]) == ("u_0", "contact", "run_3")


def test_row_groups_carry_the_statistics_a_page_skips_by(bucket, warm, tmp_path):
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    made = [entry(start + timedelta(minutes=n * 2), n, correlation_id=f"run_{n}") for n in range(4 * 2048)]
    Archive(bucket).write_hours(made)
    (file,) = full(bucket, warm, ORG, row_group_rows=2048)  # DuckDB's smallest row group: one vector
    path = tmp_path / "one.parquet"
    path.write_bytes(warm.get(file.key) or b"")
    stats = duckdb.connect().execute(
        "SELECT row_group_id, path_in_schema, stats_min_value, stats_max_value, compression FROM parquet_metadata(?)",
        [str(path)],
    ).fetchall()
    assert len({row[0] for row in stats}) == 4
    columns = {row[1] for row in stats if row[2] is not None and row[3] is not None}
    assert {"id", "type", "status", "actor_id", "entity_type", "entity_id", "correlation_id"} <= columns
    assert {row[4] for row in stats} == {"ZSTD"}
    ids = [(row[2], row[3]) for row in sorted(stats) if row[1] == "id"]
    assert all(high < next_low for (_, high), (next_low, _) in zip(ids, ids[1:]))  # sorted: groups don't overlap
    # An equality on a value of one group only (a job run's correlation id, unique per entry here) skips the others
    # by their bloom filters, as it does on a user or an entity id.
    for column, value in (("correlation_id", made[5000].correlation_id), ("entity_id", "c_3"), ("actor_id", "u_2")):
        probe = duckdb.connect().execute(
            "SELECT row_group_id, bloom_filter_excludes FROM parquet_bloom_probe(?, ?, ?) ORDER BY 1",
            [str(path), column, value],
        ).fetchall()
        assert probe == [(0, False), (1, False), (2, False), (3, False)] if column != "correlation_id" else probe == [
            (0, True), (1, True), (2, False), (3, True)
        ], column
        absent = duckdb.connect().execute(
            "SELECT bool_and(bloom_filter_excludes) FROM parquet_bloom_probe(?, ?, ?)", [str(path), column, "nobody"]
        ).fetchone()
        assert absent == (True,), column


def test_a_page_reads_newest_first_across_files_and_leaves_removed_entries_out(bucket, warm, tmp_path):
    archive = Archive(bucket)
    entries = seed(archive)
    archive.write(entries[-1], REMOVE)
    files = full(bucket, warm, ORG, row_group_rows=16)
    local = []
    for number, file in enumerate(files):
        path = tmp_path / f"{number}.parquet"
        path.write_bytes(warm.get(file.key) or b"")
        local.append((str(path), file))
    wanted = parse_list_request({"type": "USER_ACTION", "user": "u_1", "from": (NOW - timedelta(days=100)).isoformat()}).filter
    expected = sorted(
        (e.id for e in entries[:-1] if e.type is EntryType.USER_ACTION and e.actor["id"] == "u_1"), reverse=True
    )
    paged, before = [], None
    while True:
        page = newest_first(local, wanted, NOW, 7, before)
        paged += [row["id"] for row in page.rows]
        if page.last_id is None:
            break
        before = page.last_id
    assert paged == expected and len(expected) > 14  # several pages, across the months' files


def test_a_page_walks_a_files_row_groups_newest_first_without_gap_or_duplicate(bucket, warm, tmp_path):
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    made = [entry(start + timedelta(minutes=n * 2), n) for n in range(4 * 2048 + 100)]  # five row groups
    Archive(bucket).write_hours(made)
    (file,) = full(bucket, warm)
    path = tmp_path / "one.parquet"
    path.write_bytes(warm.get(file.key) or b"")
    for params, size in (({}, 50), ({"user": "u_1", "type": "USER_ACTION"}, 700), ({"entity_type": "contact", "entity_id": "c_2"}, 333)):
        wanted = parse_list_request(params | {"from": start.isoformat(), "to": NOW.isoformat()}).filter
        expected = sorted((e.id for e in made if all(_matches(e, k, v) for k, v in params.items())), reverse=True)
        paged, before = [], None
        while True:
            page = newest_first([(str(path), file)], wanted, NOW, size, before)
            assert len(page.rows) <= size
            paged += [row["id"] for row in page.rows]
            if page.last_id is None:
                break
            before = page.last_id
        assert paged == expected, params


def test_a_dense_page_reads_the_newest_row_group_not_the_whole_file(bucket, warm, tmp_path, monkeypatch):
    monkeypatch.setattr(compact, "FILE_ROWS", 16 * 2048)  # one file of 16 row groups
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    made = [entry(start + timedelta(minutes=n), n, correlation_id=f"run_{n}") for n in range(16 * 2048)]
    Archive(bucket).write_hours(made)
    (file,) = full(bucket, warm)
    path = tmp_path / "big.parquet"
    path.write_bytes(warm.get(file.key) or b"")
    wanted = parse_list_request({"from": start.isoformat(), "to": NOW.isoformat()}).filter
    connection = duckdb.connect()
    connection.execute("SET enable_external_file_cache = false")
    newest_first([(str(path), file)], wanted, NOW, 50, connection=connection)  # DuckDB's own first-use reads
    read = _read_bytes()
    page = newest_first([(str(path), file)], wanted, NOW, 50, connection=connection)
    read = _read_bytes() - read
    assert [row["id"] for row in page.rows] == sorted((e.id for e in made), reverse=True)[:50]
    # One of 16 row groups, the footer and the bloom filters: about a quarter (the whole range read ~65%).
    assert read < file.size / 3, f"{read:,} of {file.size:,} bytes"


def _read_bytes() -> int:
    """What this process has asked the kernel to read (every thread): what range reads would fetch."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def _matches(made: Entry, key: str, value: str) -> bool:
    entity = made.entity or {}
    return {"user": made.actor["id"], "type": made.type.value, "entity_type": entity.get("type"), "entity_id": entity.get("id")}[key] == value


def test_a_rerun_over_the_same_archive_writes_the_same_files_and_manifest(bucket, warm, aws):
    seed(Archive(bucket))
    first = full(bucket, warm)
    keys, manifest = warm_keys(warm), warm.get(compact.manifest_key(ORG))
    # The same archive into a fresh warm bucket: the same bytes, so the same keys and manifest.
    aws.create_bucket(Bucket="warm-again")
    again = S3Objects("warm-again", aws)
    assert full(bucket, again) == first
    assert warm_keys(again) == keys and again.get(compact.manifest_key(ORG)) == manifest


def month_of_days(archive: Archive, days: int = 30, per_day: int = 5, start: datetime = NOW - timedelta(days=60)) -> list[Entry]:
    """``per_day`` entries on each of ``days`` days from ``start``, a few of them with a second version."""
    entries = []
    for day in range(days):
        for n in range(per_day):
            made = entry(start + timedelta(days=day, hours=2 * n + 1), day * per_day + n)
            archive.write(made)
            if n == 0:  # a job finished: its latest version is the one that counts
                archive.write(Entry(**(vars(made) | {"status": Status.FAILED, "version": 2})), MODIFY)
            entries.append(made)
    return entries


class Counting:
    """The warm bucket, counting its writes."""

    def __init__(self, store: S3Objects) -> None:
        self.store, self.puts = store, []

    def keys(self, prefix, start_after=None):
        return self.store.keys(prefix, start_after)

    def get(self, key):
        return self.store.get(key)

    def put(self, key, body, content_type="application/json", tag=None):
        self.puts.append(key)
        self.store.put(key, body, content_type, tag)


def test_compacting_day_by_day_fills_few_files_with_the_rows_of_a_full_compaction(bucket, warm, aws, tmp_path, monkeypatch):
    monkeypatch.setattr(compact, "FILE_ROWS", 64)
    archive = Archive(bucket)
    start = NOW - timedelta(days=60)
    entries = month_of_days(archive, start=start)  # 150 entries over 30 days, a small org
    first_day = start.date()
    for day in range(-2, 32):  # from before its first archived day to after its last, one run a day
        through = first_day + timedelta(days=day)
        manifest = compact.compact(bucket, warm, ORG, through, row_group_rows=16)
        assert manifest.through == through and compact.read_manifest(warm, ORG) == manifest  # through advances
        wanted = sorted(e.id for e in entries if e.occurred_at.date() <= through)
        assert sorted(r["id"] for r in rows(warm, tmp_path)) == wanted, through
        assert len(manifest.files) <= len(wanted) // 64 + 1  # full files and one filling: not a file a day
        assert all(f.rows == 64 for f in manifest.files[1:])
    assert [f.rows for f in manifest.files] == [22, 64, 64]
    # The same rows, every column, as one compaction of the whole month.
    aws.create_bucket(Bucket="warm-full")
    whole = S3Objects("warm-full", aws)
    compact.compact(bucket, whole, ORG, through, row_group_rows=16)
    assert sorted(rows(warm, tmp_path), key=lambda r: r["id"]) == sorted(rows(whole, tmp_path), key=lambda r: r["id"])
    assert next(r for r in rows(warm, tmp_path) if r["id"] == entries[0].id)["status"] == "FAILED"


def test_a_rerun_with_the_same_through_writes_nothing_and_leaves_the_manifest_byte_identical(bucket, warm, monkeypatch):
    monkeypatch.setattr(compact, "FILE_ROWS", 64)
    start = NOW - timedelta(days=60)
    month_of_days(Archive(bucket), start=start)
    through = start.date() + timedelta(days=20)
    done = compact.compact(bucket, warm, ORG, through, row_group_rows=16)
    keys, manifest = warm_keys(warm), warm.get(compact.manifest_key(ORG))
    for again in (through, through - timedelta(days=3)):  # the same day, or one already reached
        counted = Counting(warm)
        assert compact.compact(bucket, counted, ORG, again, row_group_rows=16) == done
        assert counted.puts == [] and warm_keys(warm) == keys
        assert warm.get(compact.manifest_key(ORG)) == manifest


def test_the_compact_function_compacts_every_archived_org_through_compactable_through(bucket, warm, monkeypatch):
    from activitylog import wiring
    from tests.support.kit import LambdaContext, load_handler_module

    now = datetime.now(timezone.utc)
    archive, made = Archive(bucket), {}
    for org in ("org_a", "org/b"):
        for days in (40, 35, 31, 3):  # HOT_TABLE_DAYS 30: only the first two are older than 30 + 2 days
            made.setdefault(org, []).append(entry(now - timedelta(days=days), days))
            archive.write(made[org][-1], org=org)
    monkeypatch.setenv("ARCHIVE_BUCKET", BUCKET)
    monkeypatch.setenv("WARM_BUCKET", WARM)
    monkeypatch.setenv("HOT_TABLE_DAYS", "30")
    wiring.reset()
    try:
        handler = load_handler_module("CompactFunction").lambda_handler
        short = handler({}, LambdaContext(timeout=60))  # under ORG_SECONDS left: no org is started
        done = handler({}, LambdaContext(timeout=900))
        again = handler({}, LambdaContext(timeout=900))
    finally:
        wiring.reset()
    through = compact.compactable_through(now, 30)
    assert short == {"orgs": 0, "entries": 0, "files": 0, "orgs_left": 2, "failed": [], "through": through.isoformat()}
    assert done == {"orgs": 2, "entries": 4, "files": 2, "orgs_left": 0, "failed": [], "through": through.isoformat()}
    assert again == {"orgs": 0, "entries": 0, "files": 0, "orgs_left": 0, "failed": [], "through": through.isoformat()}
    for org, entries in made.items():
        manifest = compact.read_manifest(warm, org)
        assert manifest.through == through
        (file,) = manifest.files
        assert (file.min_id, file.max_id, file.rows) == (entries[0].id, entries[1].id, 2), org


def _local(warm: S3Objects, tmp_path: Path, files: list) -> list[tuple[str, compact.WarmFile]]:
    local = []
    for number, file in enumerate(files):
        path = tmp_path / f"local-{number}.parquet"
        path.write_bytes(warm.get(file.key) or b"")
        local.append((str(path), file))
    return local


def test_a_big_period_is_split_into_files_of_bounded_rows_by_id_range(bucket, warm, tmp_path, monkeypatch):
    # A page opens one file's footer, which grows with the file's row groups: a big org's month must not make one
    # file of every row group, or bytes per page grow with the org.
    monkeypatch.setattr(compact, "FILE_ROWS", 32, raising=False)
    entries = seed(Archive(bucket), months=3, per_month=70)
    files = full(bucket, warm, ORG, row_group_rows=16)
    assert all(f.rows <= 32 for f in files), [f.rows for f in files]  # so row groups per file <= 32 / group rows
    assert [f.rows for f in files] == [18] + [32] * 6  # 210 rows: full files, the newest one not full
    ranges = sorted((f.min_id, f.max_id) for f in files)
    assert all(high < next_low for (_, high), (next_low, _) in zip(ranges, ranges[1:]))  # id ranges don't overlap
    assert [f.max_id for f in files] == sorted((f.max_id for f in files), reverse=True)  # the manifest: newest first
    found = rows(warm, tmp_path)
    assert sorted(r["id"] for r in found) == sorted(e.id for e in entries)
    wanted = parse_list_request({"from": (NOW - timedelta(days=100)).isoformat()}).filter
    paged, before = [], None
    while True:
        page = newest_first(_local(warm, tmp_path, files), wanted, NOW, 25, before)
        paged += [row["id"] for row in page.rows]
        if page.last_id is None:
            break
        before = page.last_id
    assert paged == sorted((e.id for e in entries), reverse=True)
    assert full(bucket, warm, ORG, row_group_rows=16) == files  # deterministic


def test_a_small_org_merges_its_periods_into_few_files(bucket, warm, tmp_path, monkeypatch):
    monkeypatch.setattr(compact, "FILE_ROWS", 100, raising=False)
    entries = seed(Archive(bucket), months=5, per_month=40)  # 200 rows: two full files, not five
    files = full(bucket, warm, ORG, row_group_rows=16)
    assert [(f.period, f.rows) for f in files] == [("2026-09_2026-11", 100), ("2026-07_2026-09", 100)]
    assert sorted(r["id"] for r in rows(warm, tmp_path)) == sorted(e.id for e in entries)
    keys = warm_keys(warm)
    assert full(bucket, warm, ORG, row_group_rows=16) == files and warm_keys(warm) == keys  # the same files


def test_a_page_skips_files_whose_summary_cannot_match_without_opening_them(bucket, warm, tmp_path):
    archive, entries = Archive(bucket), []
    for month in range(3, 0, -1):  # u_1 only does USER_ACTIONs and u_0 only WEBHOOKs, every month
        for n in range(40):
            entries.append(entry(NOW - timedelta(days=30 * month, hours=-n * 7 - 1), n, actor={"kind": "user", "id": f"u_{n % 2}"}))
            archive.write(entries[-1])
    entries.append(entry(NOW - timedelta(days=20), 1, entity=None, actor={"kind": "system", "id": "sweeper"}))
    archive.write(entries[-1])  # no entity, no user: nothing of it in those axes' summaries
    files = full(bucket, warm, ORG, row_group_rows=16)
    local = _local(warm, tmp_path, files)
    window = {"from": (NOW - timedelta(days=100)).isoformat()}
    # Nobody by that name, a pair that never occurs though both its user and its type do, an absent entity type.
    for params in ({"user": "u_nobody"}, {"user": "u_1", "type": "WEBHOOK"}, {"entity_type": "payment"}, {"status": "FAILED"}):
        page = newest_first(local, parse_list_request(params | window).filter, NOW, 50)
        assert (page.rows, page.files_read) == ([], 0), params
    # A filter that matches still opens the files that hold its entries, and finds them all.
    page = newest_first(local, parse_list_request({"user": "u_1", "type": "USER_ACTION"} | window).filter, NOW, 500)
    assert page.files_read == len(files)
    assert [r["id"] for r in page.rows] == sorted(
        (e.id for e in entries if e.actor["id"] == "u_1" and e.type is EntryType.USER_ACTION), reverse=True
    )


def test_an_org_whose_compaction_fails_holds_no_other_back_and_the_run_fails(bucket, warm, monkeypatch):
    from activitylog import wiring
    from tests.support.kit import LambdaContext, load_handler_module

    now = datetime.now(timezone.utc)
    archive = Archive(bucket)
    for org in ("org_a", "org_b", "org_c"):
        archive.write(entry(now - timedelta(days=40), 1), org=org)
    broken = layout.data_key("org_b", new_id(now - timedelta(days=40)), "9" * 21)
    bucket.put(broken, b"not gzip")  # an object nobody can read
    monkeypatch.setenv("ARCHIVE_BUCKET", BUCKET)
    monkeypatch.setenv("WARM_BUCKET", WARM)
    wiring.reset()
    try:
        with pytest.raises(RuntimeError, match="compaction failed for 1 orgs: org_b"):
            load_handler_module("CompactFunction").lambda_handler({}, LambdaContext(timeout=900))
    finally:
        wiring.reset()
    assert [len(compact.current(warm, org)) for org in ("org_a", "org_b", "org_c")] == [1, 0, 1]
    assert compact.read_manifest(warm, "org_b").through is None


def test_a_chains_page_opens_only_the_files_whose_correlation_filter_holds_it(bucket, warm, monkeypatch):
    from activitylog.ids import LOWEST_ID, upper_bound
    from activitylog.query.filters import ActivityFilter
    from activitylog.warm import bloom, tier

    monkeypatch.setattr(compact, "FILE_ROWS", 40)  # a file a month
    archive = Archive(bucket)
    entries = seed(archive)  # three months; each run_n chain has entries in every month
    chain = [entry(NOW - timedelta(days=45, hours=n), n, correlation_id="req_once") for n in range(3)]
    for made in chain:
        archive.write(made)
    files = full(bucket, warm)
    assert len(files) >= 3 and all(f.correlations for f in files)
    holding = [f for f in files if bloom.may_hold(warm.get(compact.correlations_key(f.key)) or b"", "req_once")]
    assert len(holding) == 1  # the month the chain ran in (Bloom filters: no false positive among these few ids)

    reader = tier.WarmTier(warm)
    opened: list[str] = []
    real = reader._connect
    monkeypatch.setattr(reader, "_connect", lambda chosen: (opened.extend(f.key for f in chosen), real(chosen))[1])
    page = reader.page(ORG, ActivityFilter(correlation_id="req_once"), LOWEST_ID, upper_bound(NOW), 50, detail=False)
    assert [e.id for e in page.items] == sorted((m.id for m in chain), reverse=True)
    assert opened == [holding[0].key]  # the other months' files were never opened
    everywhere = reader.page(ORG, ActivityFilter(correlation_id="run_1"), LOWEST_ID, upper_bound(NOW), 200, detail=False)
    assert [e.id for e in everywhere.items] == sorted((e.id for e in entries if e.correlation_id == "run_1"), reverse=True)


def test_a_compaction_process_killed_with_sigkill_leaves_the_old_files_answering_and_the_rerun_finishes_it(bucket, tmp_path, monkeypatch):
    """As a Lambda that runs out of time or memory dies: no exception, no cleanup, the process gone between two writes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.support.warm import FolderBucket

    monkeypatch.setattr(compact, "FILE_ROWS", 16)
    start = NOW - timedelta(days=60)
    entries = month_of_days(Archive(bucket), start=start)
    first, second = start.date() + timedelta(days=14), start.date() + timedelta(days=29)
    archive_root, warm_root, clean_root = tmp_path / "archive", tmp_path / "warm", tmp_path / "clean"
    archive = FolderBucket(archive_root)
    for key in bucket.keys("archive/"):  # the archive as files, for the process to read too
        archive.put(key, bucket.get(key) or b"")
    warm = FolderBucket(warm_root)
    compact.compact(archive, warm, ORG, first, row_group_rows=16)
    old_manifest = warm.get(compact.manifest_key(ORG))
    wanted = parse_list_request({"from": (NOW - timedelta(days=100)).isoformat(), "to": NOW.isoformat()}).filter

    def page() -> list[str]:
        files = [(str(warm_root / f.key), f) for f in compact.current(warm, ORG)]
        return [row["id"] for row in newest_first(files, wanted, NOW, 50).rows]

    before, written_before = page(), len(list(warm.keys("warm/")))
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys; from datetime import date; from pathlib import Path\n"
        "from activitylog.warm import compact; from tests.support.warm import FolderBucket\n"
        "compact.FILE_ROWS = 16\n"
        "compact.compact(FolderBucket(Path(sys.argv[1])), FolderBucket(Path(sys.argv[2]), pause=0.5), sys.argv[3],"
        " date.fromisoformat(sys.argv[4]), row_group_rows=16)\n"
    ), str(archive_root), str(warm_root), ORG, second.isoformat()], cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.monotonic() + 120
    while len(list(warm.keys("warm/"))) < written_before + 2:  # some new files and filters, not all
        assert child.poll() is None and time.monotonic() < deadline, "the compaction ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert warm.get(compact.manifest_key(ORG)) == old_manifest  # never switched
    assert page() == before  # the old manifest and its files answer exactly as before

    finished = compact.compact(archive, warm, ORG, second, row_group_rows=16)
    clean = FolderBucket(clean_root)
    compact.compact(archive, clean, ORG, first, row_group_rows=16)
    assert compact.compact(archive, clean, ORG, second, row_group_rows=16) == finished
    assert clean.get(compact.manifest_key(ORG)) == warm.get(compact.manifest_key(ORG))  # byte for byte
    assert page() == sorted((e.id for e in entries), reverse=True)[:50]


def test_a_trace_is_found_in_the_warm_months_and_lines_archived_before_traces_read_as_untraced(bucket, warm):
    import json

    from activitylog.ids import LOWEST_ID, upper_bound
    from activitylog.query.filters import ActivityFilter
    from activitylog.warm import tier

    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    archive = Archive(bucket)
    traced = [entry(NOW - timedelta(days=50, hours=n), n, trace_id=trace, span_id=span) for n in range(2)]
    for made in traced:
        archive.write(made)
    # a line as the archive wrote it before traces were kept: no trace keys at all
    old = entry(NOW - timedelta(days=49), 7)
    archive.seq += 1
    line = version_line(ORG, old, f"{archive.seq:021d}", INSERT, old.occurred_at)
    document = json.loads(line.text)
    document.pop("trace_id", None), document.pop("span_id", None)
    bucket.put_lines(layout.data_key(ORG, old.id, line.sequence), [type(line).parse(json.dumps(document))], "2555d")
    full(bucket, warm)

    reader = tier.WarmTier(warm)
    page = reader.page(ORG, ActivityFilter(trace_id=trace), LOWEST_ID, upper_bound(NOW), 50, detail=False)
    assert [e.id for e in page.items] == sorted((m.id for m in traced), reverse=True)
    assert reader.get(ORG, traced[0].id).span_id == span
    assert reader.get(ORG, old.id).trace_id is None
