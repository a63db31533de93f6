"""The demo org's month hangs together: every record's history reads in a believable order;
the benchmarks' entries, drawn from the same generator, keep the measured distribution.

Given the generator's output for a month, when its entries are read per record (entity type
and id, as the dashboard's entity filter and history show them), then nothing happens to a
record before it is created or after it is deleted, each change starts where the previous
one left the record, and each job's runs start, progress and complete in order.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from activitylog_local import demo
from activitylog_local.demo import DemoEntry, demo_entries, seed

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
ENDINGS = {"deleted", "removed"}  # nothing happens to the record after these


@pytest.fixture(scope="module", params=[(3000, 30, 2026, 0), (300, 30, 7, 0), (800, 10, 11, 0), (300, 29, 7, 1500)],
                ids=["make-dev", "e2e", "short", "two-years"])
def entries(request) -> list[DemoEntry]:
    count, days, seed, history = request.param
    # two-years: make dev's, HotTableDays 30: the history up to what compaction reaches, none in the days between.
    return demo_entries(NOW, count=count, days=days, seed=seed, history_count=history, history_from=NOW - timedelta(days=729),
                        skip=(NOW - timedelta(days=31), NOW - timedelta(days=29)))


def test_the_history_spans_two_years_before_the_recent_weeks_and_skips_the_days_between():
    recent = demo_entries(NOW, count=300, days=29, seed=7)
    both = demo_entries(NOW, count=300, days=29, seed=7, history_count=1500, history_from=NOW - timedelta(days=729),
                        skip=(NOW - timedelta(days=31), NOW - timedelta(days=29)))
    older = [e for e in both if _at(e) < NOW - timedelta(days=29)]
    assert 1300 < len(older) < 1700 and len(both) - len(older) == len(recent) == 300
    assert min(_at(e) for e in older) < NOW - timedelta(days=700)
    assert not [e for e in older if NOW - timedelta(days=31) <= _at(e)]
    assert {e.document["type"] for e in older} == {"USER_ACTION", "BACKGROUND_JOB", "WEBHOOK", "SYSTEM_EVENT"}
    assert not [e for e in older if e.updates or e.document["status"] == "IN_PROGRESS"]  # long finished
    chains = [e.document["correlation_id"] for e in older if e.document.get("correlation_id")]
    assert any(chains.count(chain) > 1 for chain in chains)  # a sync run and the products it synced: Related
    assert both == demo_entries(NOW, count=300, days=29, seed=7, history_count=1500, history_from=NOW - timedelta(days=729),
                                skip=(NOW - timedelta(days=31), NOW - timedelta(days=29)))


def _at(entry: DemoEntry) -> datetime:
    return datetime.fromisoformat(entry.occurred_at.replace("Z", "+00:00"))


def _histories(entries: list[DemoEntry]) -> dict[tuple[str, str], list[dict]]:
    histories: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.occurred_at):
        if entry.document.get("entity"):
            histories[(entry.document["entity"]["type"], entry.document["entity"]["id"])].append(entry.document)
    return histories


def test_a_record_is_created_before_anything_else_happens_to_it(entries):
    for record, history in _histories(entries).items():
        actions = [d["action"] for d in history]
        for first in ("created", "invited"):
            if first in actions and record[0] != "team_member":
                assert actions.index(first) == 0, (record, actions)
        assert not any(d.get("before") for d in history if d["action"] == "created"), record


def test_nothing_happens_to_a_record_after_it_is_deleted_or_merged_away(entries):
    histories = _histories(entries)
    merged_away = {(d["entity"]["type"], d["metadata"]["merged_contact_id"]): d["occurred_at"]
                   for history in histories.values() for d in history if d["action"] == "merged"}
    assert merged_away and any(d["action"] == "deleted" for h in histories.values() for d in h)
    for record, history in histories.items():
        endings = [d["occurred_at"] for d in history if d["action"] in ENDINGS and record[0] != "team_member"]
        if record in merged_away:
            endings.append(merged_away[record])
        if endings:
            assert all(d["occurred_at"] <= min(endings) for d in history), (record, [(d["occurred_at"], d["action"]) for d in history])


def test_each_change_starts_where_the_previous_one_left_the_record(entries):
    chained = 0
    for record, history in _histories(entries).items():
        known: dict[str, object] = {}
        for document in history:
            for name, value in (document.get("before") or {}).items():
                if name in known:
                    assert known[name] == value, (record, name, [(d["occurred_at"], d.get("before"), d.get("after")) for d in history])
                    chained += 1
            known.update(document.get("after") or {})
    assert chained > len(entries) // 30  # the rule is exercised, not vacuous


def test_a_cancelled_release_has_no_later_entries_and_only_pending_ones_have_payments_processed(entries):
    for (kind, release), history in _histories(entries).items():
        if kind != "release":
            continue
        status = None
        for document in history:
            assert status != "CANCELLED", (release, document["event"])
            if document["action"] == "processed_payments":
                assert status in (None, "PENDING"), (release, status, document["occurred_at"])
            status = (document.get("after") or {}).get("status", status)


def test_integrations_connect_and_disconnect_in_turn_and_get_no_webhooks_while_disconnected(entries):
    for (kind, integration), history in _histories(entries).items():
        if kind != "integration":
            continue
        toggles = [d["action"] for d in history if d["action"] in ("connected", "disconnected")]
        assert all(a != b for a, b in zip(toggles, toggles[1:])), (integration, toggles)
        connected = True if not toggles else toggles[0] == "disconnected"  # its state before the month
        for document in history:
            if document["action"] in ("connected", "disconnected"):
                connected = document["action"] == "connected"
            elif document["action"] == "sent":
                assert connected, (integration, document["occurred_at"])


def test_team_members_act_only_while_on_the_team(entries):
    joined, left = {}, {}
    for document in sorted((e.document for e in entries), key=lambda d: d["occurred_at"]):
        member = (document.get("entity") or {}).get("id")
        if document["action"] == "invited":
            joined.setdefault(member, document["occurred_at"])
        elif document["action"] == "removed":
            left[member] = document["occurred_at"]
    assert "u_64" in joined  # the new hire is invited before their first action
    for document in (e.document for e in entries):
        actor = document["actor"]
        if actor["kind"] == "user":
            assert joined.get(actor["id"], "") <= document["occurred_at"] <= left.get(actor["id"], "9999"), (actor, document["occurred_at"])


def test_job_runs_start_progress_and_complete_in_order_and_never_overlap(entries):
    runs = defaultdict(list)
    for entry in entries:
        document = entry.document
        if document["type"] != "BACKGROUND_JOB" or "job" not in document.get("metadata", {}):
            continue
        runs[document["metadata"]["job"]].append(entry)
        if entry.updates:
            assert document["status"] == "IN_PROGRESS" and document["metadata"]["processed"] == 0
            processed = [u["metadata"]["processed"] for u in entry.updates if "processed" in u.get("metadata", {})]
            assert processed == sorted(processed) and all(p <= document["metadata"]["total"] for p in processed)
            statuses = [u["status"] for u in entry.updates if "status" in u]
            assert statuses in ([], [statuses[-1]]) and "IN_PROGRESS" not in statuses  # one completion, last
            if statuses:
                assert "status" in entry.updates[-1]
    assert len(runs) == 8  # the six scheduled jobs, and the two one-time syncs that failed today
    for name, started in runs.items():
        started.sort(key=lambda e: e.occurred_at)
        for run, following in zip(started, started[1:]):
            took = (run.updates[-1] if run.updates else run.document)["metadata"].get("duration_ms", 0)
            assert _at(run) + timedelta(milliseconds=took) < _at(following), (name, run.occurred_at, following.occurred_at)


def test_every_failure_and_warning_says_why_and_both_one_time_syncs_fail_today(entries):
    """The product page's "Investigating failures", walkable on the demo: each FAILED or WARNING entry names its
    reason (an error's message, or its warnings), and a failed one-time sync sends the reader to its integration."""
    from activitylog.entry import Entry, EntryType, Status

    for entry in entries:
        document = entry.document
        final = {**document, **{k: v for update in entry.updates for k, v in update.items() if k != "metadata"}}
        metadata = {**document.get("metadata", {}), **{k: v for u in entry.updates for k, v in u.get("metadata", {}).items()}}
        shown = Entry("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", EntryType(final["type"]), Status(final["status"]), {}, "", final["event"],
                      None, metadata=metadata, error=final.get("error"))
        if shown.status in (Status.FAILED, Status.WARNING):
            assert shown.reason["recorded"], document
    one_time = {e.document["metadata"]["job"]: e.document for e in entries
                if e.document.get("metadata", {}).get("job") in ("INITIAL_SQUARE_IMPORT", "IMPORT_CONTACTS")}
    assert set(one_time) == {"INITIAL_SQUARE_IMPORT", "IMPORT_CONTACTS"}
    assert all(d["status"] == "FAILED" and _at_doc(d) > NOW - timedelta(hours=8) for d in one_time.values())


def _at_doc(document: dict) -> datetime:
    return datetime.fromisoformat(document["occurred_at"].replace("Z", "+00:00"))


def test_the_example_rows_continue_their_records_histories(entries):
    histories = _histories(entries)
    alex = histories[("contact", "c_1042")]
    assert [d["event"] for d in alex] == ["Contact updated · Alex Chen"]
    payments = [d for d in histories[("release", "rel_spring26_reds")]]
    assert payments[-1]["event"] == "PROCESS_RELEASE_PAYMENTS · Spring 2026 Reds"
    assert all(d["action"] != "cancelled" for d in payments)


def test_the_benchmarks_distribution_comes_from_the_same_generator():
    """Given 4,000 draws of ``generator.document``, the shares are the measured log's."""
    import random
    from collections import Counter

    from activitylog_local import generator

    rng = random.Random(7)
    documents = [generator.document(rng, generator.busy_moment(rng, NOW - timedelta(days=30), NOW))[0] for _ in range(4000)]
    status = Counter(d["status"] for d in documents)
    kinds = Counter(d["type"] for d in documents)
    assert 0.93 < status["SUCCESS"] / 4000 < 0.965 and 0.015 < status["WARNING"] / 4000 < 0.045
    assert 0.01 < status["FAILED"] / 4000 < 0.03
    assert 0.48 < kinds["USER_ACTION"] / 4000 < 0.56 and 0.19 < kinds["WEBHOOK"] / 4000 < 0.25
    assert all(NOW - timedelta(days=30) < datetime.fromisoformat(d["occurred_at"]) < NOW for d in documents)


def test_seeding_sends_a_request_the_api_answered_503_again_and_gives_up_on_other_errors(monkeypatch):
    """A 503 (the table did not answer in time; nothing written) is sent again, as make dev on a loaded
    machine needs; a 400 is the demo's own mistake and stops the seeding."""
    monkeypatch.setattr(demo, "RETRY_WAITS", (0.0, 0.0))
    sent: list[tuple[str, str]] = []

    class Flaky:
        def __init__(self, answers):
            self.answers = list(answers)

        def request(self, method, path, body=None):
            sent.append((method, path))
            status = self.answers.pop(0) if self.answers else 200
            if status != 200:
                return status, {"message": "the log's database did not answer"}
            if path == "/activities/batch":
                return 200, {"results": [{"status": "accepted", "id": f"id_{n}"} for n, _ in enumerate(body["entries"])]}
            return 200, {}

    entries = [DemoEntry(document={"event": f"e{n}"}, updates=[{"status": "SUCCESS"}] if n == 0 else [])
               for n in range(3)]
    assert seed(Flaky([503, 503, 200, 503]), entries) == {"entries": 3, "updates": 1}
    assert sent == [("POST", "/activities/batch")] * 3 + [("PATCH", "/activities/id_0")] * 2

    with pytest.raises(demo.SeedError, match="answered 503"):
        seed(Flaky([503, 503, 503]), entries)  # still 503 after every wait: said, not hidden
    with pytest.raises(demo.SeedError, match="answered 400"):
        seed(Flaky([400]), entries)


def test_event_labels_read_as_a_phrase_then_its_subject(entries):
    """"Tag vip removed · Reese Haddad", never a dangling "removed from · Reese Haddad"."""
    dangling = {e.document["event"] for e in entries if re.search(r"\b(from|to|of|by|for|on|in|into|with) · ", e.document["event"])}
    assert dangling == set()
