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
