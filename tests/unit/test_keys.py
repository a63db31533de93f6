from activitylog import keys
from activitylog.entry import ActorKind, EntryType, Status


def test_every_key_starts_with_the_org():
    item = keys.item_keys("org_1", "01M8AP55CB939ADHT5N4N8XQT2", 4, EntryType.USER_ACTION, Status.SUCCESS,
                          ActorKind.USER, "u_17", "contact", "c_9")
    for name in ("pk", "tpk", "upk", "epk", "rpk"):
        assert item[name].startswith("org_1#"), name
    assert item["sk"] == "01M8AP55CB939ADHT5N4N8XQT2"
    assert item["ssk"] == "SUCCESS#01M8AP55CB939ADHT5N4N8XQT2"


def test_sparse_indexes_only_hold_entries_that_have_the_axis():
    item = keys.item_keys("o", "01M8AP55CB939ADHT5N4N8XQT2", 1, EntryType.BACKGROUND_JOB, Status.FAILED,
                          ActorKind.SYSTEM, "system", None, None)
    assert "upk" not in item and "epk" not in item and "rpk" not in item


def test_shard_is_stable_for_an_id_and_in_range():
    assert keys.shard_of("01M8AP55CB939ADHT5N4N8XQT2", 4) == keys.shard_of("01M8AP55CB939ADHT5N4N8XQT2", 4)
    assert {keys.shard_of(f"01M8AP55CB939ADHT5N4N8XQ{n:02d}", 4) for n in range(40)} == {0, 1, 2, 3}


def test_only_entries_with_a_correlation_id_are_in_the_chain_index():
    args = ("org_1", "01M8AP55CB939ADHT5N4N8XQT2", 2, EntryType.WEBHOOK, Status.SUCCESS, ActorKind.SYSTEM, "system", None, None)
    assert keys.item_keys(*args, correlation_id="req_42")["cpk"] == "org_1#req_42"
    assert "cpk" not in keys.item_keys(*args)


def test_only_in_progress_jobs_with_a_deadline_are_open_and_the_deadline_rounds_up():
    from datetime import datetime, timezone

    deadline = datetime(2026, 11, 26, 10, 15, 0, 250000, tzinfo=timezone.utc)
    args = ("org_1", "01M8AP55CB939ADHT5N4N8XQT2", 2, EntryType.BACKGROUND_JOB)
    rest = (ActorKind.SYSTEM, "system", "job", "j_1")
    open_ = keys.item_keys(*args, Status.IN_PROGRESS, *rest, stalls_at=deadline)
    assert open_["opk"] in {f"open#{n}" for n in range(keys.OPEN_JOB_PARTITIONS)}
    assert open_["odl"] == int(deadline.timestamp()) + 1  # never swept before its deadline
    assert "opk" not in keys.item_keys(*args, Status.WARNING, *rest, stalls_at=deadline)
    assert "opk" not in keys.item_keys(*args, Status.IN_PROGRESS, *rest)
