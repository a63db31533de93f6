"""What became of a retried failure, written on it: its ``retried`` list column, against DynamoDB Local.

Given a FAILED job and a retry run of it (an entry with ``retry_of``), when the run starts and finishes
(reports in any order, twice, two runs racing, the original saved meanwhile), then the original's row and
detail say what its latest run is doing or did, and no write to the original is lost.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from activitylog import ids, store
from activitylog.archive.store import S3Objects
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.entry import Status
from activitylog.inputs import EntryUpdate, NewEntry
from activitylog.query.filters import parse_list_request
from activitylog.service import ActivityService
from activitylog.warm import tier
from tests.support.store import NOW, WRITER, service_for

WARM, HOT_DAYS = "warm-bucket", 30
SQUARE = {"type": "integration", "id": "int_square", "label": "Square"}
SYSTEM = {"kind": "system", "id": "system", "name": "system"}
FAILED_SYNC = {
    "type": "BACKGROUND_JOB", "status": "FAILED", "actor": SYSTEM, "action": "synced", "event": "SYNC_SQUARE_STOCK",
    "entity": SQUARE, "correlation_id": "run_sync_1", "metadata": {"job": "SYNC_SQUARE_STOCK", "params": {}},
    "error": {"message": "Square API returned 401 UNAUTHORIZED", "type": "ApiException"},
    "occurred_at": (NOW - timedelta(hours=3)).isoformat(),
}


def start_run(service, original: str, minutes: int) -> str:
    """A retry run of ``original`` started ``minutes`` after two hours ago, as the ingest records a job's first report."""
    run_id = ids.new_id(NOW - timedelta(hours=2) + timedelta(minutes=minutes))
    run = {**FAILED_SYNC, "status": "IN_PROGRESS", "retry_of": original, "occurred_at": ids.occurred_at(run_id).isoformat()}
    run.pop("error")
    assert service.record_once(WRITER.org, NewEntry.model_validate(run), "svc_jobs", run_id, sequence=1)
    return run_id


def finish(service, run_id: str, status: str = "SUCCESS", sequence: int = 3):
    update = {"status": status, "sequence": sequence, "finished_at": (ids.occurred_at(run_id) + timedelta(minutes=2)).isoformat()}
    if status == "FAILED":
        update["error"] = {"message": "Square API returned 401 UNAUTHORIZED"}
    return service.amend(WRITER.org, run_id, EntryUpdate.model_validate(update))


def row(service, entry_id: str) -> dict:
    """The entry's row in the triage view (BACKGROUND_JOB, FAILED): what an index projects."""
    request = parse_list_request({"type": "BACKGROUND_JOB", "status": "FAILED,WARNING", "from": (NOW - timedelta(days=1)).isoformat(),
                                  "to": (NOW + timedelta(days=1)).isoformat()})
    (found,) = [item for item in service.list(WRITER, request, now=NOW).items if item["id"] == entry_id]
    return found


@pytest.mark.parametrize("shards", [1, 4])
def test_the_row_and_the_detail_follow_the_latest_retry_from_running_to_its_end(activity_table, shards):
    service = service_for(activity_table, shards)
    original = service.record(WRITER, NewEntry.model_validate(FAILED_SYNC)).id
    assert "retried" not in row(service, original)  # never retried: the row is as it always was

    run = start_run(service, original, 1)
    assert row(service, original)["retried"] == {"run_id": run, "status": "IN_PROGRESS", "finished_at": None}
    # the caller's "Retried …" carries retry_of too: it is no run, and changes nothing
    pressed = {**FAILED_SYNC, "type": "USER_ACTION", "status": "SUCCESS", "actor": {"kind": "user", "id": "u_17", "name": "Riley"},
               "action": "retried", "event": "Retried SYNC_SQUARE_STOCK", "retry_of": original, "occurred_at": NOW.isoformat()}
    pressed.pop("error")
    service.record(WRITER, NewEntry.model_validate(pressed))
    assert row(service, original)["retried"]["run_id"] == run

    finish(service, run)
    finished = (ids.occurred_at(run) + timedelta(minutes=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    outcome = {"run_id": run, "status": "SUCCESS", "finished_at": finished}
    assert row(service, original)["retried"] == outcome
    assert service.get(WRITER, original).retried == outcome  # the detail too
    assert service.get(WRITER, original).status is Status.FAILED  # the original itself is what it was

    # Late and repeated reports never move it back: the start again, the finish again.
    service.amend(WRITER.org, run, EntryUpdate.model_validate({"sequence": 1, "metadata": {"processed": 1}}))
    finish(service, run)
    assert row(service, original)["retried"] == outcome

    # A newer run is the one shown; the older one's report arriving after it changes nothing.
    second = start_run(service, original, 10)
    assert row(service, original)["retried"] == {"run_id": second, "status": "IN_PROGRESS", "finished_at": None}
    finish(service, run)
    assert row(service, original)["retried"]["run_id"] == second
    finish(service, second, "FAILED")
    assert row(service, original)["retried"]["status"] == "FAILED"


def test_a_retry_run_the_sweeper_calls_stalled_shows_on_the_original(activity_table):
    from activitylog.jobs.sweeper import sweep

    service = service_for(activity_table, 1)
    original = service.record(WRITER, NewEntry.model_validate(FAILED_SYNC)).id
    run = start_run(service, original, 1)
    assert sweep(service, NOW + timedelta(hours=1))["stalled"] == 1  # no report for longer than its timeout
    assert row(service, original)["retried"] == {"run_id": run, "status": "WARNING",
                                                  "finished_at": row(service, original)["retried"]["finished_at"]}
    assert row(service, original)["retried"]["finished_at"] is not None


def test_the_original_saved_while_its_retry_finishes_keeps_both_writes(activity_table):
    """A deterministic interleaving: a writer reads the original, the retry finishes, the writer saves."""
    service = service_for(activity_table, 1)
    original = service.record(WRITER, NewEntry.model_validate(FAILED_SYNC)).id
    run = start_run(service, original, 1)
    read = service.stored(WRITER.org, original, consistent=True)
    read.metadata = {**read.metadata, "note": "checked by support"}

    finish(service, run)  # lands between the writer's read and its save

    assert service.save(WRITER.org, read, expected_status=Status.FAILED) is False  # decided on an older read: refused
    again = service.stored(WRITER.org, original, consistent=True)
    again.metadata = {**again.metadata, "note": "checked by support"}
    assert service.save(WRITER.org, again, expected_status=Status.FAILED) is True
    stored = service.stored(WRITER.org, original, consistent=True)
    assert stored.metadata["note"] == "checked by support" and stored.retried["status"] == "SUCCESS"
    assert row(service, original)["retried"]["status"] == "SUCCESS"


def race(service, original: str, runs: list[str], note: int) -> None:
    """Finish ``runs`` and save ``note`` on the original, all at once (threads released by one barrier)."""
    start = threading.Barrier(len(runs) + 1)
    errors: list[BaseException] = []

    def finishing(run_id: str) -> None:
        start.wait()
        finish(service, run_id)

    def saving() -> None:
        start.wait()
        for _ in range(50):  # read, change, compare-and-set; again when another write came between
            entry = service.stored(WRITER.org, original, consistent=True)
            entry.metadata = {**entry.metadata, "note": note}
            if service.save(WRITER.org, entry, expected_status=Status.FAILED):
                return
        raise AssertionError("the save never landed")

    def guarded(work, *args) -> None:
        try:
            work(*args)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(finishing, run)) for run in runs]
    threads.append(threading.Thread(target=guarded, args=(saving,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_runs_finishing_at_once_while_the_original_is_saved_lose_no_write(activity_table):
    """Real concurrency: three runs of one original finish together while a writer saves the original."""
    service = service_for(activity_table, 2)
    for round_ in range(4):
        original = service.record(WRITER, NewEntry.model_validate(FAILED_SYNC)).id
        runs = [start_run(service, original, 1 + 10 * round_ + k) for k in range(3)]
        race(service, original, runs, round_)
        stored = service.stored(WRITER.org, original, consistent=True)
        assert stored.metadata["note"] == round_
        assert stored.retried["run_id"] == runs[-1] and stored.retried["status"] == "SUCCESS"


def test_a_retry_of_an_entry_frozen_in_the_warm_tier_is_recorded_and_leaves_the_original_as_it_is(world):
    world.s3.create_bucket(Bucket=WARM)
    moment = {"now": NOW - timedelta(days=HOT_DAYS + 1)}
    settings = Settings(table_name=world.service.config.table_name, detail_bucket=None, cursor_secret="x",
                        policy_seconds=0, warm_bucket=WARM, hot_table_days=HOT_DAYS)
    service = ActivityService(settings, store.EntryStore(DetailStore(None)), clock=lambda: moment["now"],
                              warm=tier.WarmTier(S3Objects(WARM, world.s3)))
    old = {**FAILED_SYNC, "occurred_at": (moment["now"] - timedelta(minutes=5)).isoformat()}
    original = service.record(WRITER, NewEntry.model_validate(old)).id
    moment["now"] = NOW
    run = start_run(service, original, 1)
    assert finish(service, run).status is Status.SUCCESS  # the run is recorded whole
    assert service.stored(WRITER.org, original, consistent=True).retried is None  # the frozen original did not change
