"""Bulk retry: every retryable failure a filter selects, retried as if each Retry button were pressed.

- ``request``  ``POST /retries`` ``{"filters": {…}, "name": …, "confirm": false}``. The filter must
               select on at least one of the list's axes (type, status, user, entity): a window
               alone, or nothing, is a 400 naming ``filters``. Its window is frozen when asked
               (a relative ``from`` such as ``"24h"``, or the list's default of 24 hours, becomes
               absolute ``from`` and ``to``), and so is what was recorded by then (``as_of``).
               Without ``confirm``: the preview (200), matched, retryable, and the rest grouped by
               the single retry's reason (``jobtypes.retry_target``, the rule behind an entry's
               ``retry`` field). With ``confirm``: the same count, recorded as the bulk retry's own
               entry (BACKGROUND_JOB ``BULK_RETRY``, IN_PROGRESS, who asked and the frozen filter)
               and its state machine started (202).
- ``status``, ``listing``, ``cancel``: ``GET /retries/{id}``, ``GET /retries``, ``POST /retries/{id}/cancel``.
- ``page``, ``retry_one``, ``finish``, ``fail``: the state machine's steps
  (infra/statemachines/bulk_retry.asl.json, functions/bulk_retry). ``page`` reads the next page of
  matching ids with the list's own plan (``ActivityService.read_page``, no scans); a Map runs
  ``retry_one`` for each, at most ``BulkRetryConcurrency`` at once.

``retry_one`` is the Retry button (``activitylog.jobs.retry.retry``) in the requester's name: one
"Retried …" entry per original, the chain linked. It runs under Powertools idempotency keyed on the
org and the original (``IDEMPOTENCY_WINDOW``): a Map item run again, or a second bulk retry over the
same originals, finds the first answer and starts nothing. Its claim on the progress item
(``activitylog.store.bulk``) is taken only while the bulk retry is RUNNING: after a cancel lands,
no original is retried.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Optional

from activitylog import ids
from activitylog.entry import Entry, Status
from activitylog.errors import ActivityLogError, BadRequest, Conflict, NotFound, Unavailable
from activitylog.idempotency import KEY_WINDOW_SECONDS, run_once
from activitylog.jobs.client import Publisher
from activitylog.jobtypes import retry_target
from activitylog.query.filters import AXES, ActivityFilter, filter_document, parse_filter_document
from activitylog.scopes import READ, RETRY, ROUTE_SCOPES, WRITE
from activitylog.service import ActivityService, Caller
from activitylog.store.bulk import CANCELLED, DONE, FAILED, RUNNING, SKIPPED, STARTED, BulkRetryProgress

JOB = "BULK_RETRY"
ROUTE = "POST /retries"
RETRIER = "svc_retries"  # recorded_by of a bulk retry's entry: the service, writing for the requester
ENTITY = {"type": "job", "id": "bulk_retries"}  # every bulk retry of an org: one record's history (GET /retries)
PAGE_ENTRIES = 200  # originals per Map (their ids stay far below Step Functions' 256 KB state)
PREVIEW_ENTRIES = 1000  # entries per read of the preview
# The preview reads every match within the HTTP API's 30 s (10,000: ~15 s on DynamoDB Local, bench/bulk_retry.py)
MAX_ORIGINALS = 10_000
IDEMPOTENCY_WINDOW = KEY_WINDOW_SECONDS  # a second bulk retry over the same originals within it starts nothing
RUN_TIMEOUT_SECONDS = 24 * 3600  # the bulk retry's entry is a long job for the sweeper
NAME_CHARACTERS = 120
CANCELLED_REASON = "cancelled before it was reached"
ELSEWHERE_REASON = "already retried by another bulk retry"
_RELATIVE = re.compile(r"^(\d{1,5})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class BulkRetryRuns:
    """Starts the bulk retry state machine (``BULK_RETRY_STATE_MACHINE``), one execution named by the bulk retry."""

    def __init__(self, state_machine: Optional[str]) -> None:
        self.state_machine = state_machine

    def start(self, bulk_id: str, state: dict) -> None:
        if not self.state_machine:
            raise RuntimeError("BULK_RETRY_STATE_MACHINE is not set: a bulk retry needs its state machine")
        import boto3

        boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine, name=bulk_id, input=json.dumps(state)
        )


def frozen_filters(filters: Any, now: datetime) -> tuple[ActivityFilter, dict]:
    """The body's filter with its window made absolute at ``now``: the filter and its recorded document.

    >>> from datetime import timezone
    >>> frozen_filters({"status": ["FAILED"], "from": "2h"}, datetime(2026, 12, 5, 12, tzinfo=timezone.utc))[1]
    {'status': ['FAILED'], 'from': '2026-12-05T10:00:00+00:00', 'to': '2026-12-05T12:00:00+00:00'}
    """
    if not isinstance(filters, dict):
        raise BadRequest("filters must be an object of the list's filter keys (at least one of them)", "filters")
    filters = dict(filters)
    relative = _RELATIVE.match(str(filters.get("from") or ""))
    if relative:
        filters["from"] = (now - timedelta(**{_UNITS[relative[2]]: int(relative[1])})).isoformat()
    wanted = parse_filter_document(filters, "filters", (*AXES, "from", "to"))
    document = filter_document(wanted)
    if not any(key in document for key in AXES):
        raise BadRequest(
            f"filters must select on at least one of {', '.join(AXES)}: a bulk retry never selects everything",
            "filters",
        )
    low, high = wanted.window(now)
    document.update({"from": low.isoformat(), "to": high.isoformat()})
    return parse_filter_document(document, "filters", (*AXES, "from", "to")), document


def refusal(entry: Entry) -> Optional[str]:
    """Why the Retry button would refuse ``entry`` (None: it would retry it)."""
    try:
        retry_target(entry)
    except Conflict as refused:
        return refused.message
    return None


class BulkRetries:
    def __init__(
        self,
        service: ActivityService,
        progress: BulkRetryProgress,
        runs: BulkRetryRuns,
        publisher: Callable[[], Publisher],
        persistence: Callable[[], Any],
    ) -> None:
        self.service = service
        self.progress = progress
        self.runs = runs
        self.publisher = publisher
        self.persistence = persistence

    # -- the API ------------------------------------------------------------------------

    def request(self, caller: Caller, body: Any) -> tuple[int, dict]:
        caller.require(ROUTE_SCOPES[ROUTE])
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object: {filters, name, confirm}", "body")
        unknown = set(body) - {"filters", "name", "confirm"}
        if unknown:
            raise BadRequest(f"unknown field {sorted(unknown)[0]!r}: use filters, name, confirm", sorted(unknown)[0])
        if "filters" not in body or not body["filters"]:
            raise BadRequest(
                "filters is required and must not be empty: a bulk retry never selects everything", "filters"
            )
        confirm = body.get("confirm", False)
        if not isinstance(confirm, bool):
            raise BadRequest("confirm must be true or false", "confirm")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_CHARACTERS):
            raise BadRequest(f"name must be 1-{NAME_CHARACTERS} characters", "name")
        now = self.service.clock()
        wanted, document = frozen_filters(body["filters"], now)
        preview = self._preview(caller.org, wanted, now)
        answer = {"preview": not confirm, "filters": document, "as_of": now.isoformat(), **preview}
        if not confirm:
            return 200, answer
        name = (name or "").strip() or f"Retry {preview['retryable']:,} of {preview['matched']:,} matching entries"
        requester = {"id": caller.subject, "name": caller.name}
        entry = self.service.record(
            self._retrier(caller.org),
            _new_entry(requester, name, document, now, preview),
        )
        self.progress.begin(caller.org, entry.id, preview["matched"])
        try:
            self.runs.start(entry.id, {"org": caller.org, "bulk_id": entry.id})
        except Exception as error:  # noqa: BLE001 - it must not stay RUNNING with nothing running it
            self.progress.finish(caller.org, entry.id, FAILED)
            self._close(caller.org, entry.id, Status.FAILED, f"the bulk retry could not be started: {error}")
            raise Unavailable(
                "the bulk retry could not be started; nothing was retried, try again", "confirm"
            ) from None
        return 202, self.view(caller.org, self.service.find(caller.org, entry.id))

    def status(self, caller: Caller, bulk_id: str) -> dict:
        caller.require(ROUTE_SCOPES["GET /retries/{id}"])
        return self.view(caller.org, self._bulk(caller.org, bulk_id))

    def listing(self, caller: Caller, limit: int = 50) -> dict:
        """The org's bulk retries, newest first (one record's history: the list's own index, no scan)."""
        caller.require(ROUTE_SCOPES["GET /retries"])
        wanted = parse_filter_document({"entity_type": ENTITY["type"], "entity_id": ENTITY["id"]}, "filters", AXES)
        now = self.service.clock()
        page = self.service.read_page(caller.org, wanted, ids.LOWEST_ID, ids.upper_bound(now), limit, now, detail=True)
        return {"items": [self.view(caller.org, entry) for entry in page.items if _is_bulk(entry)]}

    def cancel(self, caller: Caller, bulk_id: str) -> dict:
        """Stop claiming originals: those already claimed finish, no other is retried. The machine ends within a page."""
        caller.require(ROUTE_SCOPES["POST /retries/{id}/cancel"])
        entry = self._bulk(caller.org, bulk_id)
        if not self.progress.finish(caller.org, bulk_id, CANCELLED, by=caller.subject):
            current = self.progress.read(caller.org, bulk_id) or {}
            if current.get("status") != CANCELLED:
                raise Conflict(f"this bulk retry is {current.get('status', 'over')}: there is nothing to cancel", "id")
        return self.view(caller.org, entry)

    def view(self, org: str, entry: Entry) -> dict:
        metadata = entry.metadata or {}
        progress = self.progress.read(org, entry.id) or {
            "status": {Status.SUCCESS: DONE, Status.WARNING: CANCELLED}.get(entry.status, FAILED),
            **{key: metadata.get(key, 0) for key in ("matched", "started", "failed")},
            "skipped": metadata.get("skipped") or {},
        }  # the progress item expires with the idempotency window; the entry keeps the final counts
        return {
            "id": entry.id,
            "name": metadata.get("name"),
            "requested_by": metadata.get("requester"),
            "filters": metadata.get("filters"),
            "as_of": (metadata.get("window") or {}).get("as_of"),
            "status": progress["status"],
            "matched": progress["matched"],
            "retryable": metadata.get("retryable"),
            "started": progress["started"],
            "failed": progress["failed"],
            "skipped": progress["skipped"],
            "cancelled_by": progress.get("cancelled_by") or metadata.get("cancelled_by"),
            "entry_status": entry.status.value,
        }

    # -- the state machine's steps ------------------------------------------------------

    def page(self, state: dict) -> dict:
        """The next ids to retry, below ``state["position"]``; ``done`` once the window is read or the run is over."""
        org, bulk_id = state["org"], state["bulk_id"]
        progress = self.progress.read(org, bulk_id)
        if progress is None or progress["status"] != RUNNING:
            return {**state, "items": [], "done": True}
        entry = self._bulk(org, bulk_id)
        wanted, low_id, high_id, as_of = _frozen(entry)
        high = high_id if not state.get("position") else ids.before(state["position"])
        page = self.service.read_page(org, wanted, low_id, high, PAGE_ENTRIES, as_of)
        items = [item.id for item in _as_of(page.items, as_of) if item.id != bulk_id]
        requester = (entry.metadata or {}).get("requester") or {}
        # the requester rides along to each item: one read fewer per original
        return {
            **state,
            "items": items,
            "position": page.position,
            "done": page.position is None,
            "requester": requester,
        }

    def retry_one(self, state: dict, lambda_context: Any = None) -> dict:
        """Retry one original for the bulk retry, exactly once; its outcome (``started``, ``skipped``, ``failed``)."""
        org, bulk_id, original = state["org"], state["bulk_id"], state["original"]
        claim = self.progress.claim(org, bulk_id, original)
        if claim is not None:
            if claim.get("outcome"):
                return claim  # this item ran before (Step Functions ran it again): counted then
            if claim.get("cancelled"):
                return self.progress.settle(org, bulk_id, original, SKIPPED, CANCELLED_REASON, None)
            # claimed by an attempt that died before its outcome: carry on (the retry itself is idempotent)
        requester = state.get("requester") or (self._bulk(org, bulk_id).metadata or {}).get("requester") or {}
        try:
            original_entry = self.service.find(org, original)
        except NotFound:
            return self.progress.settle(org, bulk_id, original, SKIPPED, "no longer in the log", None)
        refused = refusal(original_entry)
        if refused:
            return self.progress.settle(org, bulk_id, original, SKIPPED, refused, None)
        caller = Caller(org, requester.get("id") or RETRIER, frozenset({RETRY}), name=requester.get("name"))
        try:
            answer = run_once(
                org,
                ROUTE,
                original,
                None,
                lambda_context,
                lambda: {**self._press(caller, original, lambda_context), "bulk_id": bulk_id},
                persistence=self.persistence,
                window_seconds=IDEMPOTENCY_WINDOW,
                wait_seconds=10,
            )
        except ActivityLogError as error:  # the bus refused, or the original changed meanwhile: this one failed
            return self.progress.settle(org, bulk_id, original, "failed", error.message, None)
        if answer.get("bulk_id") != bulk_id:
            return self.progress.settle(org, bulk_id, original, SKIPPED, ELSEWHERE_REASON, answer.get("run_id"))
        return self.progress.settle(org, bulk_id, original, STARTED, None, answer.get("run_id"))

    def _press(self, caller: Caller, original: str, lambda_context: Any) -> dict:
        from activitylog.jobs.retry import retry

        return retry(self.service, caller, original, lambda_context, self.publisher(), self.persistence)

    def finish(self, state: dict) -> dict:
        """After the last page (or a cancel): DONE unless cancelled, and the entry closed with the counts."""
        org, bulk_id = state["org"], state["bulk_id"]
        self.progress.finish(org, bulk_id, DONE)
        progress = self.progress.read(org, bulk_id) or {}
        status = Status.SUCCESS
        if progress.get("status") == CANCELLED or progress.get("failed"):
            status = Status.WARNING
        self._close(org, bulk_id, status, None, progress)
        return {**state, "status": progress.get("status")}

    def fail(self, state: dict) -> dict:
        org, bulk_id = state["org"], state["bulk_id"]
        failure = state.get("failure") or {}
        self.progress.finish(org, bulk_id, FAILED)
        message = f"{failure.get('Error') or 'Error'}: {failure.get('Cause') or ''}".strip(": ")
        self._close(org, bulk_id, Status.FAILED, message, self.progress.read(org, bulk_id) or {})
        return {**state, "status": FAILED}

    # -- helpers --------------------------------------------------------------------------

    def _preview(self, org: str, wanted: ActivityFilter, now: datetime) -> dict:
        matched, retryable, skipped = 0, 0, dict[str, int]()
        for entry in self._matching(org, wanted, now):
            matched += 1
            if matched > MAX_ORIGINALS:
                raise BadRequest(
                    f"filters match more than {MAX_ORIGINALS:,} entries: narrow them (a shorter window, one type)",
                    "filters",
                )
            refused = refusal(entry)
            if refused:
                skipped[refused] = skipped.get(refused, 0) + 1
            else:
                retryable += 1
        return {"matched": matched, "retryable": retryable, "skipped": skipped}

    def _matching(self, org: str, wanted: ActivityFilter, now: datetime) -> Iterator[Entry]:
        low, high = wanted.window(now)
        low_id, high_id = ids.lower_bound(low), ids.upper_bound(high)
        while True:
            page = self.service.read_page(org, wanted, low_id, high_id, PREVIEW_ENTRIES, now, detail=True)
            yield from _as_of(page.items, now)
            if page.position is None:
                return
            high_id = ids.before(page.position)

    def _bulk(self, org: str, bulk_id: str) -> Entry:
        ids.check_entry_id(bulk_id)
        try:
            entry = self.service.get(Caller(org, RETRIER, frozenset({READ})), bulk_id)
        except NotFound:
            entry = None
        if entry is None or not _is_bulk(entry):
            raise NotFound(f"no bulk retry {bulk_id}", "id")
        return entry

    def _retrier(self, org: str) -> Caller:
        return Caller(org, RETRIER, frozenset({WRITE}))

    def _close(
        self, org: str, bulk_id: str, status: Status, error: Optional[str], progress: Optional[dict] = None
    ) -> None:
        from activitylog.inputs import EntryUpdate

        document: dict[str, Any] = {"status": status.value, "sequence": 1}
        if progress:
            document["metadata"] = {
                key: progress.get(key) for key in ("started", "failed", "skipped", "cancelled_by") if key in progress
            }
            document["metadata"]["outcome"] = progress.get("status")
        if error:
            document["error"] = {"message": error[:4000], "type": "BulkRetryFailed"}
        self.service.update(self._retrier(org), bulk_id, EntryUpdate.model_validate(document))


def _is_bulk(entry: Entry) -> bool:
    return (entry.metadata or {}).get("job") == JOB and (entry.entity or {}).get("id") == ENTITY["id"]


def _as_of(entries: list[Entry], moment: datetime) -> list[Entry]:
    """What the list showed at ``moment``: an entry recorded later (a "Retried …", a run) was not there yet."""
    return [entry for entry in entries if entry.recorded_at is None or entry.recorded_at <= moment]


def _frozen(entry: Entry) -> tuple[ActivityFilter, str, str, datetime]:
    metadata = entry.metadata or {}
    wanted = parse_filter_document(metadata["filters"], "filters", (*AXES, "from", "to"))
    window = metadata["window"]
    low, high = datetime.fromisoformat(window["from"]), datetime.fromisoformat(window["to"])
    return wanted, ids.lower_bound(low), ids.upper_bound(high), datetime.fromisoformat(window["as_of"])


def _new_entry(requester: dict, name: str, document: dict, now: datetime, preview: dict) -> Any:
    from activitylog.inputs import NewEntry

    return NewEntry.model_validate(
        {
            "type": "BACKGROUND_JOB",
            "status": Status.IN_PROGRESS.value,
            "actor": {"kind": "user", "id": requester["id"], "name": requester.get("name") or requester["id"]},
            "action": "retried",
            "event": JOB,
            "entity": {**ENTITY, "label": name[:200]},
            "metadata": {
                "job": JOB,
                "name": name,
                "requester": requester,
                "filters": document,
                "window": {"from": document["from"], "to": document["to"], "as_of": now.isoformat()},
                "matched": preview["matched"],
                "retryable": preview["retryable"],
                "timeout_seconds": RUN_TIMEOUT_SECONDS,
            },
        }
    )
