"""Tamper evidence: the hourly digests over a real archive (entries written through the service
on DynamoDB Local, archived from its stream by the archive function, S3 and its Object Lock in
moto), and ``verify`` naming each record that was altered, deleted or added, each digest
dropped, and the newest hour cut off with its digest and head.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from activitylog.archive import layout
from activitylog.archive import digests as digests_module
from activitylog.archive.digests import Digester
from activitylog.archive.lines import INSERT, Line, version_line

from tests.support.digests import ARCHIVE, DIGESTS, LONG_AGO, World, cli, other_signer

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
    forged_entry = world.service.stored("org_a", ids[0])
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


@pytest.mark.parametrize("step", ["_checkpoint", "_move_head"])
def test_a_run_that_died_before_moving_the_head_is_picked_up_not_forked(world, monkeypatch, step):
    world.hour(world.record(2, hours_ago=2))
    world.record(2, hours_ago=1)
    world.archive_new()
    original = getattr(Digester, step)
    monkeypatch.setattr(Digester, step, lambda *args: (_ for _ in ()).throw(ConnectionError("gone")))
    with pytest.raises(ConnectionError):
        world.digest()
    monkeypatch.setattr(Digester, step, original)

    world.hour(world.record(1, hours_ago=0.5))

    report = world.verify()
    assert report.ok, report.to_dict()
    assert report.digests == 3


# -- issue 18: what verify trusts, and what it names --------------------------------------------------


def window(*more: str) -> list[str]:
    return ["--org", "org_a", "--from", LONG_AGO.isoformat(), "--archive-bucket", ARCHIVE, "--digest-bucket", DIGESTS, *more]


def resign(world: World, key: str, document: dict, signer) -> None:
    """A new version of ``key`` (Object Lock allows adding one) with ``document`` signed by ``signer``."""
    from activitylog.archive.digests import sign

    world.s3.put_object(Bucket=DIGESTS, Key=key, Body=sign({**document, "signing_key": signer.key_id}, signer))


def test_a_duplicated_version_is_named(world):
    ids = world.record(3)
    world.hour(ids)
    key, lines = world.object_of(ids[1])
    copy = key.replace(".jsonl.gz", "9.jsonl.gz")
    world.rewrite(copy, [line for line in lines if line.entry_id == ids[1]])

    assert problems(world.verify()) == [("duplicated", ids[1])]


def test_a_digest_and_head_signed_by_another_key_are_named_not_trusted(world, tmp_path):
    # The reproduction: a line deleted, then the digest and the head rewritten without it,
    # signed by another KMS key the attacker controls.
    ids = world.record(3)
    world.hour(ids)
    key, lines = world.object_of(ids[1])
    world.rewrite(key, [line for line in lines if line.entry_id != ids[1]])
    head = json.loads(world.digests.get(layout.head_key("org_a")))
    digest = json.loads(world.digests.get(head["digest"]["key"]))
    digest["records"] = [r for r in digest["records"] if r["id"] != ids[1]]
    digest["count"] = len(digest["records"])
    attacker = other_signer(tmp_path)
    resign(world, head["digest"]["key"], digest, attacker)
    import hashlib

    head["digest"]["sha256"] = hashlib.sha256(world.digests.get(head["digest"]["key"])).hexdigest()
    resign(world, layout.head_key("org_a"), head, attacker)

    # verify, given the deployment's key, names the digest and the head that another key signed.
    named = {(f.kind, f.key) for f in world.verify().problems if "pinned key" in f.message}
    assert named == {("digest", head["digest"]["key"]), ("head", layout.head_key("org_a"))}
    # So does the command line, pinned to the deployment's public key.
    code, out = cli("verify", *window("--public-key", str(world.signer.path)))
    assert code == 1, out
    assert "signature does not hold under a pinned key" in out and attacker.key_id in out
    assert "was rewritten" in out
    # Without a pinned key verify refuses to run rather than trust the key the bucket names.
    code, out = cli("verify", *window())
    assert code == 1 and "no pinned signing key" in out, out


def test_a_forged_version_named_by_a_manifest_dated_in_the_future_is_named_and_never_answered(world, support_reads):
    ids = world.record(2)
    world.hour(ids)
    key, lines = world.object_of(ids[0])
    forged_entry = world.service.stored("org_a", ids[0])
    forged_entry.event = "Contact deleted"
    forged = version_line("org_a", forged_entry, "999999999999999999999", INSERT, datetime.now(timezone.utc))
    world.rewrite(key, lines + [forged])
    manifest = "manifests/20991231T235959000000Z_999999999999999999999.json"
    world.s3.put_object(Bucket=ARCHIVE, Key=manifest, Body=json.dumps({"lines": [
        {"org": "org_a", "key": key, "id": ids[0], "seq": forged.sequence, "change": INSERT, "sha256": forged.sha256}]}).encode())

    report = world.verify()

    assert ("manifest", manifest) in problems(report) and ("inserted", ids[0]) in problems(report)
    assert "future" in next(f.message for f in report.problems if f.kind == "manifest")
    # archive query answers what a digest signed, never the forged version, even asked for pending ones.
    pin = ("--public-key", str(world.signer.path))
    for more in ((), ("--pending",)):
        code, out = cli("archive", "query", *window(*pin, *more), "--json", "--reason", "ticket 4312")
        assert code == 0, out
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert sorted(row["id"] for row in rows) == sorted(ids) and "Contact deleted" not in out


def test_a_forged_manifest_dated_in_the_past_and_one_left_undigested_are_named(world):
    ids = world.record(2)
    world.hour(ids)
    key, lines = world.object_of(ids[0])
    forged_entry = world.service.stored("org_a", ids[0])
    forged = version_line("org_a", forged_entry, "999999999999999999998", INSERT, datetime.now(timezone.utc))
    world.rewrite(key, lines + [forged])
    past = layout.manifest_key(datetime.now(timezone.utc) - timedelta(hours=3), forged.sequence)
    world.s3.put_object(Bucket=ARCHIVE, Key=past, Body=json.dumps({"lines": [
        {"org": "org_a", "key": key, "id": ids[0], "seq": forged.sequence, "change": INSERT, "sha256": forged.sha256}]}).encode())
    assert problems(world.verify()) == [("inserted", ids[0])]  # before the newest digest: in no digest

    # A manifest after the newest digest is pending for the cadence and its grace, then a finding.
    world.rewrite(key, lines)
    later = world.record(1, hours_ago=0.1)
    world.archive_new()
    assert world.verify().ok
    report = world.verify(now=datetime.now(timezone.utc) + timedelta(hours=3))
    assert [f.kind for f in report.problems] == ["manifest", "inserted"] and report.problems[1].entry_id == later[0]
    assert "still in no digest" in report.problems[0].message


@pytest.mark.parametrize("times", [1, 1000])
def test_a_head_rolled_back_is_named_however_often_it_was_put_back(world, times):
    world.hour(world.record(2, hours_ago=2))
    old_head = world.digests.get(layout.head_key("org_a"))
    world.hour(world.record(2, hours_ago=1))
    newest = json.loads(world.digests.get(layout.head_key("org_a")))["digest"]["key"]
    for _ in range(times):
        world.s3.put_object(Bucket=DIGESTS, Key=layout.head_key("org_a"), Body=old_head)
    reads, listed_prefixes = [], []
    original = world.s3.get_object
    world.s3.get_object = lambda **kwargs: reads.append(kwargs) or original(**kwargs)
    listing = world.digests.listed_versions
    world.digests.listed_versions = lambda prefix: listed_prefixes.append(prefix) or listing(prefix)

    report = world.verify()

    assert [(f.kind, f.key) for f in report.problems] == [("head", newest)], report.to_dict()
    assert "went back" in report.problems[0].message
    # Reading does not grow with the versions put: the head is read once, and no old version of it is listed or read.
    assert sum(r["Key"] == layout.head_key("org_a") for r in reads) == 1 and not any("VersionId" in r for r in reads)
    assert listed_prefixes == [layout.digest_prefix("org_a"), layout.checkpoint_prefix("org_a")]


def test_a_truncated_tail_digest_checkpoint_and_head_is_named(world):
    world.hour(world.record(2, hours_ago=2))
    old_head = world.digests.get(layout.head_key("org_a"))
    newest_ids = world.record(2, hours_ago=1)
    world.hour(newest_ids)
    head = json.loads(world.digests.get(layout.head_key("org_a")))
    newest_checkpoint = max(world.digests.keys(layout.checkpoint_prefix("org_a")))
    for entry_id in newest_ids:
        key, lines = world.object_of(entry_id)
        world.rewrite(key, [line for line in lines if line.entry_id != entry_id])
    world.s3.delete_object(Bucket=DIGESTS, Key=head["digest"]["key"])
    world.s3.delete_object(Bucket=DIGESTS, Key=newest_checkpoint)
    world.s3.put_object(Bucket=DIGESTS, Key=layout.head_key("org_a"), Body=old_head)

    found = {(f.kind, f.key) for f in world.verify().problems}

    assert found == {("head", head["digest"]["key"]), ("chain", head["digest"]["key"]), ("checkpoint", newest_checkpoint)}


def test_the_checkpoints_grow_one_rfc9162_tree_over_every_version(world):
    from activitylog.archive import merkle
    from activitylog.archive.digests import leaves_of

    world.hour(world.record(3, hours_ago=2))
    world.hour(world.record(4, hours_ago=1))

    report = world.verify()

    assert report.ok and report.checkpoints == 2, report.to_dict()
    digests = [json.loads(world.digests.get(k)) for k in sorted(world.digests.keys(layout.digest_prefix("org_a")))]
    checkpoints = [json.loads(world.digests.get(k)) for k in sorted(world.digests.keys(layout.checkpoint_prefix("org_a")))]
    leaves = leaves_of(digests[0]["records"] + digests[1]["records"])
    assert [c["tree_size"] for c in checkpoints] == [3, 7]
    assert checkpoints[1]["root"] == merkle.tree_root(leaves).hex() == digests[1]["tree"]["root"]
    assert checkpoints[1]["previous"] == {"tree_size": 3, "root": merkle.tree_root(leaves[:3]).hex()}
    assert merkle.consistency_holds(3, 7, merkle.tree_root(leaves[:3]), merkle.tree_root(leaves),
                                    [bytes.fromhex(n) for n in checkpoints[1]["consistency"]])


@pytest.mark.parametrize("tampering", ["dropped", "edited", "another key", "forked"])
def test_a_checkpoint_dropped_edited_signed_by_another_key_or_forked_is_named(world, tampering, tmp_path):
    from activitylog.archive import merkle
    from activitylog.archive.digests import sign

    world.hour(world.record(2, hours_ago=2))
    world.hour(world.record(2, hours_ago=1))
    first, second = sorted(world.digests.keys(layout.checkpoint_prefix("org_a")))
    document = json.loads(world.digests.get(first))
    if tampering == "dropped":
        world.s3.delete_object(Bucket=DIGESTS, Key=first)
    elif tampering == "edited":
        document["time"] = "2020-01-01T00:00:00.000000Z"
        world.s3.put_object(Bucket=DIGESTS, Key=first, Body=json.dumps(document).encode())
    elif tampering == "another key":
        resign(world, first, document, other_signer(tmp_path))
    else:  # a history that forks from the first checkpoint: a tree of 3 whose first 2 leaves are not the first's
        leaves = [merkle.leaf_hash(bytes([n]) * 32) for n in range(3)]
        frontier = merkle.append([], 0, leaves)
        fork = {**document, "tree_size": 3, "root": merkle.root(frontier).hex(), "frontier": [n.hex() for n in frontier],
                "previous": {"tree_size": 2, "root": document["root"]},
                "consistency": [n.hex() for n in merkle.consistency_proof(2, merkle.append([], 0, leaves[:2]), leaves[2:])]}
        world.s3.put_object(Bucket=DIGESTS, Key=layout.checkpoint_key("org_a", 3), Body=sign(fork, world.signer))

    report = world.verify()

    named = [f for f in report.problems if f.kind == "checkpoint"]
    assert named, report.to_dict()
    if tampering == "forked":
        assert any("does not extend" in f.message for f in named) and named[0].key == layout.checkpoint_key("org_a", 3)
    else:
        assert first in {f.key for f in named}
    if tampering == "another key":
        assert any("pinned key" in f.message for f in named)


def test_a_chain_from_before_the_tree_gets_one_first_checkpoint_over_all_its_versions(world):
    """Digests of format 1 (no tree): the next run signs a checkpoint over every version their chain names."""
    from activitylog.archive.digests import sign

    first = world.record(3, hours_ago=2)
    world.archive_new()
    records = sorted(({"id": r["id"], "seq": r["seq"], "change": r["change"], "sha256": r["sha256"]}
                      for key in world.archive.keys(layout.MANIFEST_PREFIX) for r in json.loads(world.archive.get(key))["lines"]),
                     key=lambda r: int(r["seq"]))
    until = datetime.now(timezone.utc)
    old = {"format": 1, "org": "org_a", "from": None, "until": until.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "sequence": 1,
           "count": 3, "first_id": min(first), "last_id": max(first), "records": records,
           "manifests": list(world.archive.keys(layout.MANIFEST_PREFIX)), "previous": None, "signing_key": world.signer.key_id}
    body = sign(old, world.signer)
    key = layout.digest_key("org_a", until)
    world.digests.put(key, body)
    Digester(world.archive, world.digests, world.signer)._move_head("org_a", 1, key, body, old["until"])
    world.s3.put_object(Bucket=ARCHIVE, Key="digest-state/cut.json", Body=json.dumps({"cut": old["until"]}).encode())

    world.hour(world.record(2, hours_ago=1))

    report = world.verify()
    assert report.ok and report.checkpoints == 2, report.to_dict()
    assert [layout.checkpoint_size(k) for k in sorted(world.digests.keys(layout.checkpoint_prefix("org_a")))] == [3, 5]


def test_a_garbled_digest_or_head_is_a_finding_not_a_crash(world):
    world.hour(world.record(2, hours_ago=2))
    world.hour(world.record(2, hours_ago=1))
    newest = json.loads(world.digests.get(layout.head_key("org_a")))["digest"]["key"]
    world.s3.put_object(Bucket=DIGESTS, Key=newest, Body=b"not json")
    world.s3.put_object(Bucket=DIGESTS, Key=layout.head_key("org_a"), Body=b"{")

    found = {(f.kind, f.key) for f in world.verify().problems}

    assert {("head", layout.head_key("org_a")), ("digest", newest)} <= found


def test_a_digest_hidden_before_the_window_and_a_looping_forgery_are_named(world):
    world.hour(world.record(2, hours_ago=30))
    world.hour(world.record(2, hours_ago=2))
    world.hour(world.record(2, hours_ago=1))
    oldest = min(world.digests.keys(layout.digest_prefix("org_a")))
    # The oldest digest hidden, for a window the walk stops short of (as digests written days before it would be)
    world.s3.delete_object(Bucket=DIGESTS, Key=oldest)
    original = digests_module.CLOCK_SLACK
    digests_module.CLOCK_SLACK = timedelta(days=-1)  # the walk stops at the newest digest
    try:
        recent = world.verify(low=datetime.now(timezone.utc) - timedelta(minutes=30))
    finally:
        digests_module.CLOCK_SLACK = original

    assert recent.digests == 1 and problems(recent) == [("chain", oldest)]
    assert "deleted" in recent.problems[0].message
    forged = layout.digest_key("org_a", datetime(2099, 1, 1, tzinfo=timezone.utc))
    world.s3.put_object(Bucket=DIGESTS, Key=forged, Body=json.dumps({"previous": {"key": forged, "sha256": None}}).encode())
    found = {(f.kind, f.key) for f in world.verify().problems}
    assert {("head", forged), ("digest", forged), ("chain", forged)} <= found
