from activitylog import keys
from activitylog.entry import EntryType, Status
from activitylog.query.planner import Branch, plan_query


def test_no_filter_reads_the_table_once_per_shard():
    plan = plan_query("o", 3)
    assert [(b.index, b.hash_key, b.status) for b in plan.branches] == [(None, "o#0", None), (None, "o#1", None), (None, "o#2", None)]


def test_type_and_status_multiselect_is_one_exact_branch_per_pair_and_shard():
    plan = plan_query("o", 2, types=[EntryType.BACKGROUND_JOB], statuses=[Status.FAILED, Status.WARNING])
    assert plan.index == keys.BY_TYPE
    assert {(b.hash_key, b.status) for b in plan.branches} == {
        ("o#0#BACKGROUND_JOB", Status.WARNING), ("o#0#BACKGROUND_JOB", Status.FAILED),
        ("o#1#BACKGROUND_JOB", Status.WARNING), ("o#1#BACKGROUND_JOB", Status.FAILED),
    }
    assert not plan.residual_types


def test_status_alone_fans_out_over_types_with_status_in_the_key():
    plan = plan_query("o", 1, statuses=[Status.FAILED])
    assert plan.index == keys.BY_TYPE and len(plan.branches) == 4
    assert all(b.status is Status.FAILED for b in plan.branches)


def test_the_most_selective_axis_drives_and_the_rest_is_residual():
    record = plan_query("o", 2, types=[EntryType.USER_ACTION], user="u_1", entity_type="contact", entity_id="c_1")
    assert record.index == keys.BY_RECORD and record.residual_user == "u_1"
    user = plan_query("o", 2, user="u_1", entity_type="contact", statuses=[Status.FAILED])
    assert user.index == keys.BY_USER and user.residual_entity_type == "contact"
    assert [b.status for b in user.branches] == [Status.FAILED]
    entity = plan_query("o", 2, entity_type="contact", statuses=[Status.FAILED])
    assert entity.index == keys.BY_ENTITY and len(entity.branches) == 2


def test_range_bounds_put_the_status_in_front_of_the_ids():
    branch = Branch(keys.BY_TYPE, "o#0#WEBHOOK", Status.WARNING)
    assert branch.range_bounds("A", "B") == ("WARNING#A", "WARNING#B")
    assert Branch(None, "o#0").range_bounds("A", "B") == ("A", "B")


def test_a_chain_drives_and_every_other_axis_is_residual():
    plan = plan_query("o", 2, types=[EntryType.WEBHOOK], user="u_1", entity_type="integration", entity_id="int_woo",
                      correlation_id="req_42")
    assert plan.index == keys.BY_CORRELATION and {b.hash_key for b in plan.branches} == {"o#req_42"}
    assert len(plan.branches) == 4  # one per status: the chain is read in one merge, newest first
    assert (plan.residual_types, plan.residual_user, plan.residual_entity_type, plan.residual_entity_id) == (
        frozenset({EntryType.WEBHOOK}), "u_1", "integration", "int_woo")
    assert [b.status for b in plan_query("o", 2, correlation_id="c", statuses=[Status.FAILED]).branches] == [Status.FAILED]


def test_a_trace_drives_from_its_own_index_and_every_other_axis_is_residual():
    plan = plan_query("o", 2, types=[EntryType.WEBHOOK], user="u_1", trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    assert plan.index == keys.BY_TRACE and {b.hash_key for b in plan.branches} == {"o#4bf92f3577b34da6a3ce929d0e0e4736"}
    assert len(plan.branches) == 4  # one per status, not per shard: one trace is small
    assert (plan.residual_types, plan.residual_user) == (frozenset({EntryType.WEBHOOK}), "u_1")
