"""The jobs package's pure parts: the register, the entry rules for stalls, the client's events and buffer, retry's choice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from activitylog import ids
from activitylog.entry import Entry, EntryType, Status
from activitylog.errors import Conflict
from activitylog.inputs import EntryUpdate, NewEntry
from activitylog.jobs import events
from activitylog.jobs.client import ActivityClient, Publisher
from activitylog.jobs.events import ActivityEvent, RunRequest
from activitylog.jobtypes import DEFAULT_TIMEOUT, job_type, timeout_of
from activitylog.jobtypes import retry_state, retry_target
from activitylog.rules import apply_update, mark_stalled, new_entry

from tests.support.events import eventbridge_event

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
SQUARE = {"type": "integration", "id": "int_square", "label": "Square"}


class FakeBus:
    """An EventBridge client's put_events: takes entries, or fails while ``down`` (as a network error would)."""

    def __init__(self) -> None:
        self.down = False
        self.refuse: set[int] = set()  # positions in the next call to answer with an ErrorCode
        self.received: list[dict] = []

    def put_events(self, Entries: list[dict]) -> dict:  # noqa: N803 - boto3's name
        if self.down:
            raise ConnectionError("Could not connect to the endpoint URL")
        answers = []
        for position, entry in enumerate(Entries):
            if position in self.refuse:
                answers.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                self.received.append(entry)
                answers.append({"EventId": str(len(self.received))})
        self.refuse = set()
        return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}

    def details(self) -> list[dict]:
        return [json.loads(entry["Detail"]) for entry in self.received]


@pytest.fixture
def bus() -> FakeBus:
    return FakeBus()


def client(bus: FakeBus, **kwargs) -> ActivityClient:
    return ActivityClient("org_1", publisher=Publisher("platform", bus, pause=0), **kwargs)


# -- the register -------------------------------------------------------------------------------


def test_the_register_decides_retryability_and_says_why_not():
    assert job_type("SYNC_SQUARE_STOCK").retryable and job_type("SYNC_SQUARE_STOCK").retry_refusal is None
    assert job_type("IMPORT_CONTACTS").retry_refusal == "IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page"
    unknown = job_type("SOMETHING_NEW")
    assert not unknown.retryable and unknown.timeout == DEFAULT_TIMEOUT == timedelta(minutes=15)


def test_a_runs_own_timeout_wins_over_its_types():
    assert timeout_of({"job": "PROCESS_RELEASE_PAYMENTS"}) == timedelta(minutes=30)
    assert timeout_of({"job": {"name": "PROCESS_RELEASE_PAYMENTS"}}) == timedelta(minutes=30)
    assert timeout_of({"job": "SYNC_SQUARE_STOCK", "timeout_seconds": 5}) == timedelta(seconds=5)
    assert timeout_of({"job": "SYNC_SQUARE_STOCK", "timeout_seconds": "5"}) == timedelta(minutes=15)


# -- stall deadlines and the sweeper's verdict --------------------------------------------------------


def job_entry(status: str = "IN_PROGRESS", **metadata) -> Entry:
    document = {"type": "BACKGROUND_JOB", "status": status, "actor": {"kind": "system", "id": "system", "name": "system"},
                "action": "synced", "event": "SYNC_SQUARE_STOCK", "entity": SQUARE, "occurred_at": NOW.isoformat(),
                "metadata": {"job": "SYNC_SQUARE_STOCK", **metadata}}
    return new_entry(NewEntry.model_validate(document), "svc_jobs", NOW, 730)


def test_an_in_progress_job_stalls_its_timeout_after_its_last_progress():
    entry = job_entry(processed=0)
    assert entry.stalls_at == NOW + timedelta(minutes=15)
    later = NOW + timedelta(minutes=10)
    assert apply_update(entry, EntryUpdate(metadata={"processed": 50}, sequence=2), later)
    assert entry.stalls_at == later + timedelta(minutes=15)
    # Reports within the same minute keep the deadline (the open_jobs index item is not rewritten) …
    assert apply_update(entry, EntryUpdate(metadata={"processed": 60}, sequence=3), later - timedelta(seconds=59))
    assert entry.stalls_at == later + timedelta(minutes=15)
    # … and it is never earlier than the timeout after the last report.
    assert apply_update(entry, EntryUpdate(metadata={"processed": 70}, sequence=4), later + timedelta(seconds=1))
    assert entry.stalls_at == later + timedelta(minutes=16)
    # An older report is not progress: the deadline stays.
    assert not apply_update(entry, EntryUpdate(metadata={"processed": 10}, sequence=1), later + timedelta(minutes=5))
    assert entry.stalls_at == later + timedelta(minutes=16)
    assert apply_update(entry, EntryUpdate(status="SUCCESS", sequence=3), later + timedelta(minutes=6))
    assert entry.stalls_at is None


def test_only_in_progress_jobs_have_a_deadline():
    assert job_entry("SUCCESS").stalls_at is None
    action = new_entry(NewEntry.model_validate({"type": "USER_ACTION", "status": "IN_PROGRESS", "action": "exported",
                                                "actor": {"kind": "user", "id": "u_1", "name": "U"}, "event": "Export"}),
                       "svc", NOW, 730)
    assert action.stalls_at is None


def test_the_sweeper_marks_a_job_past_its_deadline_stalled_keeping_its_last_progress():
    entry = job_entry(processed=120, total=500)
    assert not mark_stalled(entry, NOW + timedelta(minutes=14))
    assert entry.status is Status.IN_PROGRESS
    assert mark_stalled(entry, NOW + timedelta(minutes=16))
    assert entry.status is Status.WARNING and entry.error["type"] == "JobStalled"
    assert "no progress reported for 15 min" in entry.error["message"]
    assert entry.metadata["processed"] == 120 and entry.metadata["total"] == 500
    assert entry.metadata["stalled"] == {"deadline": (NOW + timedelta(minutes=15)).isoformat(), "timeout_seconds": 900}
    assert entry.finished_at == NOW + timedelta(minutes=16) and entry.stalls_at is None
    assert not mark_stalled(entry, NOW + timedelta(hours=1))  # a finished entry is left alone


# -- the client's events -----------------------------------------------------------------------------


def test_a_jobs_start_progress_and_completion_address_one_entry_in_order(bus):
    with client(bus).job("SYNC_SQUARE_STOCK", entity=SQUARE, params={"location_ids": ["L1"]}, retryable=True) as job:
        job.progress(processed=120, total=500)
        job.progress(processed=500, total=500)
    details = bus.details()
    assert [e["DetailType"] for e in bus.received] == ["JobStarted", "JobProgressed", "JobProgressed", "JobFinished"]
    assert {d["entry_id"] for d in details} == {job.id} and {d["org_id"] for d in details} == {"org_1"}
    sequences = [d["sequence"] for d in details]
    assert sequences == sorted(sequences) and len(set(sequences)) == 4
    first, last = details[0]["entry"], details[-1]["entry"]
    assert first["status"] == "IN_PROGRESS" and first["metadata"] == {"job": "SYNC_SQUARE_STOCK", "params": {"location_ids": ["L1"]},
                                                                     "retryable": True}
    assert last["status"] == "SUCCESS" and last["metadata"]["processed"] == 500 and "duration_ms" in last["metadata"]
    assert ids.occurred_at(job.id) == datetime.fromisoformat(first["occurred_at"].replace("Z", "+00:00"))
    for detail in details:  # each is a whole entry: whichever arrives first can create it
        NewEntry.model_validate(detail["entry"])


def test_an_exception_records_failed_with_its_stack_and_goes_on(bus):
    def sync():
        raise PermissionError("Square API returned 401 UNAUTHORIZED")

    with pytest.raises(PermissionError):
        with client(bus).job("SYNC_SQUARE_STOCK") as job:
            job.progress(processed=3)
            sync()
    final = bus.details()[-1]["entry"]
    assert final["status"] == "FAILED" and final["metadata"]["processed"] == 3
    assert final["error"]["message"] == "Square API returned 401 UNAUTHORIZED" and final["error"]["type"] == "PermissionError"
    assert "in sync" in final["error"]["stack"] and final["error"]["stack"].rstrip().endswith("401 UNAUTHORIZED")


def test_warn_ends_the_run_warning_with_its_caveats(bus):
    with client(bus).job("SYNC_WOO_ORDERS") as job:
        job.warn("12 orders had no SKU", skipped=12)
    final = bus.details()[-1]["entry"]
    assert final["status"] == "WARNING" and final["metadata"]["warnings"] == ["12 orders had no SKU"]
    assert final["metadata"]["skipped"] == 12


def test_a_run_cannot_make_a_one_time_sync_retryable_but_may_opt_out(bus):
    client(bus).job("IMPORT_CONTACTS", retryable=True).finish()
    client(bus).job("SYNC_SQUARE_STOCK", retryable=False).finish()
    assert [d["entry"]["metadata"]["retryable"] for d in bus.details() if d["entry"]["status"] == "SUCCESS"] == [False, False]


def test_the_chain_passes_from_the_caller_into_its_jobs_and_their_webhooks(bus):
    activity = client(bus, correlation_id="req_42")
    activity.record(type="USER_ACTION", actor={"kind": "user", "id": "u_17", "name": "Riley Park"}, action="started",
                    event="Stock sync started · Square", entity=SQUARE)
    with activity.job("SYNC_SQUARE_STOCK"):
        activity.webhook_sent("inventory.updated", {"type": "integration", "id": "int_woo", "label": "WooCommerce"},
                              url="https://hooks.example.com/woo", response_status=500)
    assert {d["entry"]["correlation_id"] for d in bus.details()} == {"req_42"}
    webhook = next(d["entry"] for d in bus.details() if d["entry"]["type"] == "WEBHOOK")
    assert webhook["status"] == "FAILED" and webhook["error"]["message"] == "WooCommerce answered 500"
    assert webhook["webhook"]["url"] == "https://hooks.example.com/woo" and webhook["webhook"]["response"]["status_code"] == 500
    assert webhook["metadata"] == {"topic": "inventory.updated"}


def test_an_outgoing_webhook_is_the_webhook_shape_of_post_activities_and_its_status_says_what_became_of_it(bus):
    activity = client(bus)
    woo = {"type": "integration", "id": "int_woo", "label": "WooCommerce"}
    activity.webhook_sent("order.created", woo, url="https://hooks.example.com/woo", body={"order": 1}, response_status=201)
    activity.webhook_sent("order.created", woo, url="https://hooks.example.com/woo", response_status=503, gave_up=False, attempt=2)
    activity.webhook_sent("order.created", woo, url="https://hooks.example.com/woo", error="connection refused")
    entries = [d["entry"] for d in bus.details()]
    assert [e["status"] for e in entries] == ["SUCCESS", "WARNING", "FAILED"]
    assert entries[2]["webhook"]["response"] is None and entries[2]["error"]["message"] == "connection refused"
    for entry in entries:  # each passes POST /activities' own checks of a delivery
        NewEntry.model_validate(entry)


def test_a_job_nobody_started_begins_its_own_chain_and_its_webhooks_join_it(bus):
    activity = client(bus)
    with activity.job("NIGHTLY_CONTACT_DEDUPE") as job:
        activity.webhook_sent("contact.merged", {"type": "integration", "id": "int_woo", "label": "WooCommerce"}, url="https://hooks.example.com/woo",
                              response_status=200)
    activity.system_event("cache_cleared", "Product catalog cache cleared")
    chains = [d["entry"].get("correlation_id") for d in bus.details()]
    assert chains == [job.id, job.id, job.id] + [None]  # start, webhook, finish; then outside the job: no chain


def test_a_settings_change_is_a_system_event_with_before_and_after(bus):
    client(bus).system_event("updated", "Setting changed · Tax collection", entity={"type": "setting", "id": "set_tax"},
                             before={"mode": "origin"}, after={"mode": "destination"})
    (entry,) = [d["entry"] for d in bus.details()]
    assert entry["type"] == "SYSTEM_EVENT" and entry["actor"]["kind"] == "system"
    assert (entry["before"], entry["after"]) == ({"mode": "origin"}, {"mode": "destination"})


# -- the buffer --------------------------------------------------------------------------------------


def test_the_client_never_raises_when_the_bus_is_down_and_delivers_in_order_when_it_is_back(bus):
    activity = client(bus)
    bus.down = True
    with activity.job("SYNC_SQUARE_STOCK") as job:  # nothing raised
        job.progress(processed=1)
    assert activity.publisher.pending and bus.received == []
    assert activity.flush() == 3  # still down: start, progress and finish still waiting
    bus.down = False
    activity.record(type="SYSTEM_EVENT", actor={"kind": "system", "id": "system", "name": "system"}, action="cache_cleared",
                    event="Cache cleared")  # the next call sends the backlog first
    assert [e["DetailType"] for e in bus.received] == ["JobStarted", "JobProgressed", "JobFinished", "ActivityRecorded"]
    assert not activity.publisher.pending


def test_after_a_failed_send_reports_only_buffer_for_a_pause_and_flush_still_tries(bus):
    class Counting(FakeBus):
        calls = 0

        def put_events(self, Entries):  # noqa: N803
            Counting.calls += 1
            return super().put_events(Entries)

    counting = Counting()
    counting.down = True
    activity = ActivityClient("org_1", publisher=Publisher("platform", counting, pause=60))
    with activity.job("SYNC_SQUARE_STOCK") as job:
        for n in range(20):
            job.progress(processed=n)
    assert Counting.calls == 1 and len(activity.publisher.pending) == 22  # one try, then the reports only wait
    counting.down = False
    assert activity.flush() == 0 and Counting.calls == 4  # 22 events, ten to a call


def test_events_the_bus_refuses_go_first_next_time():
    bus = FakeBus()
    publisher = Publisher("platform", bus, pause=0)
    bus.refuse = {1}
    publisher.publish([{"Detail": "a"}, {"Detail": "b"}, {"Detail": "c"}])
    assert [e["Detail"] for e in bus.received] == ["a", "c"] and [e["Detail"] for e in publisher.pending] == ["b"]
    publisher.publish([{"Detail": "d"}])
    assert [e["Detail"] for e in bus.received] == ["a", "c", "b", "d"]


def test_the_buffer_is_bounded_and_counts_what_it_drops():
    bus = FakeBus()
    bus.down = True
    publisher = Publisher("platform", bus, limit=3, pause=0)
    publisher.publish([{"Detail": str(n)} for n in range(5)])
    assert [e["Detail"] for e in publisher.pending] == ["2", "3", "4"] and publisher.dropped == 2


def test_without_a_bus_nothing_raises_and_events_wait():
    activity = ActivityClient("org_1", publisher=Publisher(None, FakeBus()))
    activity.publisher.bus = None
    activity.system_event("cache_cleared", "Cache cleared")
    assert len(activity.publisher.pending) == 1


def test_an_invalid_entry_is_not_sent_and_not_raised(bus):
    client(bus).record(type="USER_ACTION", action="Not A Verb!", event="x", actor={"kind": "user", "id": "u", "name": "U"})
    assert bus.received == []


def test_a_huge_stack_trace_is_cut_to_fit_one_event(bus):
    with pytest.raises(RecursionError):
        with client(bus).job("SYNC_SQUARE_STOCK", params={"blob": "x" * 200_000}):
            raise RecursionError("deep " + "y" * 10_000)
    final = bus.received[-1]
    assert len(json.dumps(final, default=str)) < events.MAX_EVENT_BYTES
    assert json.loads(final["Detail"])["entry"]["status"] == "FAILED"


# -- events as the ingest reads them ------------------------------------------------------------------


def test_an_activity_event_is_parsed_from_its_eventbridge_envelope(bus):
    client(bus).system_event("cache_cleared", "Cache cleared")
    sent = bus.received[0]
    envelope = eventbridge_event(sent, time="2026-11-26T10:00:00Z")
    event = ActivityEvent.parse(envelope)
    assert (event.org, event.sequence, event.reported_at) == ("org_1", None, NOW)
    with pytest.raises(ValueError, match="detail.entry_id"):
        ActivityEvent.parse({**envelope, "detail": {**envelope["detail"], "entry_id": 7}})
    with pytest.raises(ValueError, match="not an activity event"):
        ActivityEvent.parse({**envelope, "source": "aws.s3"})


def test_a_run_request_round_trips_and_names_a_retry():
    request = RunRequest("org_1", "SYNC_SQUARE_STOCK", "01M8AP55CB939ADHT5N4N8XQT2", {"a": 1}, SQUARE, "req_1",
                         retry_of="01M8AP55CB939ADHT5N4N8XQT3")
    event = request.event()
    assert event["DetailType"] == "RetryRequested" and event["Source"] == events.RUN_SOURCE
    assert RunRequest.from_event({"detail": json.loads(event["Detail"])}) == request
    assert RunRequest("o", "J", "01M8AP55CB939ADHT5N4N8XQT2").detail_type == "JobRequested"



def test_a_retry_request_carries_the_callers_entry_for_the_ingest_and_a_job_request_none(bus):
    riley = {"kind": "user", "id": "u_17", "name": "Riley Park"}
    record = client(bus, actor=riley).draft(type="USER_ACTION", action="retried", event="Retried SYNC_SQUARE_STOCK",
                                            entry_id="01M8AP55CB939ADHT5N4N8XQT4", retry_of="01M8AP55CB939ADHT5N4N8XQT3")
    assert bus.received == []  # drafted, not sent
    request = RunRequest("org_1", "SYNC_SQUARE_STOCK", "01M8AP55CB939ADHT5N4N8XQT5", retry_of="01M8AP55CB939ADHT5N4N8XQT3",
                         record=record)
    sent = request.event()
    envelope = {"source": sent["Source"], "detail-type": sent["DetailType"], "detail": json.loads(sent["Detail"])}
    assert events.is_activity_event(envelope)
    event = ActivityEvent.parse(envelope)
    assert (event.org, event.entry_id, event.entry["actor"], event.entry["retry_of"]) == (
        "org_1", "01M8AP55CB939ADHT5N4N8XQT4", riley, "01M8AP55CB939ADHT5N4N8XQT3")
    with pytest.raises(ValueError, match="detail.record"):
        ActivityEvent.parse({**envelope, "detail": {**envelope["detail"], "record": None}})
    asked = RunRequest("org_1", "SYNC_SQUARE_STOCK", "01M8AP55CB939ADHT5N4N8XQT5").event()
    assert not events.is_activity_event({"source": asked["Source"], "detail-type": asked["DetailType"], "detail": {}})
    with pytest.raises(ValueError, match="not a valid entry"):
        client(bus).draft(type="USER_ACTION", action="retried", event="", entry_id="01M8AP55CB939ADHT5N4N8XQT4")


# -- what a retry runs -------------------------------------------------------------------------------


def finished(entry_type: str, status: str, action: str = "synced", **metadata) -> Entry:
    return Entry(id="01M8AP55CB939ADHT5N4N8XQT2", type=EntryType(entry_type), status=Status(status), actor={}, action=action,
                 event="e", entity=None, metadata=metadata)


def test_a_failed_or_warning_retryable_job_runs_again_with_its_parameters():
    assert retry_target(finished("BACKGROUND_JOB", "FAILED", job="SYNC_SQUARE_STOCK", params={"l": 1})) == ("SYNC_SQUARE_STOCK", {"l": 1})
    assert retry_target(finished("BACKGROUND_JOB", "WARNING", job="SYNC_SQUARE_STOCK")) == ("SYNC_SQUARE_STOCK", {})
    outgoing = finished("WEBHOOK", "FAILED", action="sent", topic="order.created",
                        webhook={"direction": "outgoing", "url": "https://x", "method": "POST", "request": {"headers": {}, "body": {"o": 1}}})
    assert retry_target(outgoing) == ("SEND_WEBHOOK", {"topic": "order.created", "url": "https://x", "method": "POST", "body": {"o": 1}})
    older = finished("WEBHOOK", "FAILED", action="sent", request={"topic": "order.created", "url": "https://x"})  # the demo's shape
    assert retry_target(older) == ("SEND_WEBHOOK", {"topic": "order.created", "url": "https://x"})


@pytest.mark.parametrize("entry, says", [
    (finished("BACKGROUND_JOB", "FAILED", job="IMPORT_CONTACTS"), "re-trigger it from its integration page"),
    (finished("BACKGROUND_JOB", "SUCCESS", job="SYNC_SQUARE_STOCK"), "only a FAILED or WARNING entry"),
    (finished("BACKGROUND_JOB", "IN_PROGRESS", job="SYNC_SQUARE_STOCK"), "only a FAILED or WARNING entry"),
    (finished("BACKGROUND_JOB", "FAILED", job="SOMETHING_NEW"), "not a registered job type"),
    (finished("BACKGROUND_JOB", "FAILED", job="SYNC_SQUARE_STOCK", retryable=False), "recorded as not retryable"),
    (finished("BACKGROUND_JOB", "FAILED"), "does not name its job type"),
    (finished("WEBHOOK", "FAILED", action="received"), "only a background job or an outgoing webhook"),
    (finished("USER_ACTION", "FAILED", action="updated"), "only a background job or an outgoing webhook"),
])
def test_what_cannot_be_retried_is_a_409_saying_why(entry, says):
    with pytest.raises(Conflict, match=says):
        retry_target(entry)


def test_the_detail_says_whether_retry_applies_and_why_not():
    assert retry_state(finished("BACKGROUND_JOB", "FAILED", job="SYNC_SQUARE_STOCK")) == {"allowed": True}
    assert retry_state(finished("BACKGROUND_JOB", "FAILED", job="IMPORT_CONTACTS")) == {
        "allowed": False, "reason": "IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page"}
    assert retry_state(finished("BACKGROUND_JOB", "SUCCESS", job="SYNC_SQUARE_STOCK")) is None
    assert retry_state(finished("USER_ACTION", "FAILED", action="updated")) is None
    assert retry_state(finished("WEBHOOK", "FAILED", action="received")) is None


def test_an_event_the_bus_refuses_for_what_it_is_is_dropped_and_the_rest_go_on():
    class Picky(FakeBus):
        def put_events(self, Entries):  # noqa: N803 - boto3's name
            answers = []
            for entry in Entries:
                if entry["Detail"] == "bad":
                    answers.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
                else:
                    self.received.append(entry)
                    answers.append({"EventId": str(len(self.received))})
            return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}

    bus = Picky()
    publisher = Publisher("platform", bus, pause=0)
    publisher.publish([{"Detail": "a"}, {"Detail": "bad"}, {"Detail": "c"}])
    publisher.publish([{"Detail": "d"}])
    assert [e["Detail"] for e in bus.received] == ["a", "c", "d"] and not publisher.pending


def test_requests_are_cut_to_ten_entries_and_less_than_256_kb():
    bus = FakeBus()
    sizes = []
    original = bus.put_events

    def measured(Entries):  # noqa: N803 - boto3's name
        sizes.append((len(Entries), sum(events.entry_size(e) for e in Entries)))
        return original(Entries=Entries)

    bus.put_events = measured
    publisher = Publisher("platform", bus, pause=0)
    bus.down = True
    publisher.publish([{"Source": "s", "DetailType": "d", "Detail": "x" * size} for size in [100] * 12 + [100_000] * 5])
    bus.down = False
    assert publisher.flush() == 0 and len(bus.received) == 17
    assert all(count <= 10 and total < events.MAX_EVENT_BYTES for count, total in sizes[1:])
    assert [count for count, _ in sizes[1:]] == [10, 4, 2, 1]
