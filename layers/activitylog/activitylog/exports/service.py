"""CSV exports of any size: answered at once when small, run by Step Functions when large.

- ``request``  POST /exports. Reads at most the threshold (rows, and the bytes a buffered
               Lambda answer can carry) plus one row: if the set ends within it, the CSV
               is the answer and the export is recorded SUCCESS; otherwise it is recorded
               IN_PROGRESS and its state machine started. Nothing is read twice but the
               threshold's worth the background job reads again.
- ``status``   GET /exports/{id}: progress, and a fresh download link once ready.
- ``download`` GET /exports/{id}/download?token=…: a presigned URL valid for minutes.
- ``begin``, ``write``, ``complete``, ``fail``: the state machine's steps
  (infra/statemachines/export.asl.json through functions/export_worker). Their state is
  the export id and org, where to mail, the upload id, the position (the id of the last
  row written: the next part starts strictly below it) and counters; never rows.

Entries are read by ``ActivityService.read_page``, the list's own plan and merge, so an
export holds exactly the rows ``GET /activities`` pages through for the same filters, as the
list was when the export was asked for: entries recorded after that (``window.as_of``) are left
out, however they are dated.

The routes call ``container().exports`` (``activitylog.wiring``): ``request(caller, filters)``
answers a ``SmallExport`` (the CSV itself) or a ``LargeExport`` (running in the background).
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Optional, Union

from activitylog import ids
from activitylog.config import ExportSettings
from activitylog.entry import Entry, Status
from activitylog.errors import BadRequest, Conflict, Gone, NotFound, Unavailable
from activitylog.exports import links
from activitylog.exports.csvfile import CsvWriter
from activitylog.exports.files import ExportFiles, export_key
from activitylog.exports.record import EXPORTER, Export, new_export, parse_filters
from activitylog.observability import logger
from activitylog.query.filters import ActivityFilter
from activitylog.scopes import READ, ROUTE_SCOPES, WRITE
from activitylog.service import ActivityService, Caller
from activitylog.signing import Key
from activitylog.support.access import support_reason

PAGE_ROWS = 1000  # entries per merged read
STATUS_LINK_SECONDS = 3600  # a link GET /exports/{id} hands to its (authenticated) requester
DOWNLOAD_URL_SECONDS = 300  # the presigned S3 URL a link redirects to
# S3 takes at most 10,000 parts: past 1,000 parts a part is a thousandth of what is written so
# far, up to 128 MiB (a worker holds about three parts' worth). That reaches about 900 GB.
PART_GROWTH, MAX_PART_BYTES = 1000, 128 * 1024 * 1024
PART_TIME_MARGIN = 2.0  # a step starts another part only with twice its slowest part's time left, plus
STEP_SPARE_SECONDS = 30.0  # this much for its report


@dataclass
class SmallExport:
    """Answered at once: the whole CSV (bounded by the threshold's bytes)."""

    body: bytes
    export: Export
    filename: str


@dataclass
class LargeExport:
    """Running in the background; its link is emailed when ready."""

    export: Export


class ExportRuns:
    """Starts the export state machine (``ExportSettings.state_machine``)."""

    def __init__(self, state_machine: Optional[str]) -> None:
        self.state_machine = state_machine

    def start(self, export_id: str, state: dict) -> None:
        if not self.state_machine:
            raise RuntimeError("EXPORT_STATE_MACHINE is not set: large exports need their state machine")
        import boto3

        # Named by the export: a retried start of the same export is the same execution.
        boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine, name=export_id, input=json.dumps(state)
        )


class ExportService:
    def __init__(
        self,
        activity: ActivityService,
        config: ExportSettings,
        files: ExportFiles,
        runs: ExportRuns,
        link_key: Optional[Key] = None,
    ) -> None:
        self.activity = activity
        self.config = config
        self.files = files
        self.runs = runs
        self._link_key = link_key

    @property
    def link_key(self) -> Key:
        if self._link_key is None:
            self._link_key = self.config.link_key()
        return self._link_key

    # -- the API ------------------------------------------------------------------------

    def request(
        self, caller: Caller, filters: Optional[dict], parameters: Optional[Mapping[str, str]] = None
    ) -> Union[SmallExport, LargeExport]:
        """An export of the entries ``filters`` select (``GET /activities``' keys and defaults).

        A token with ``activity:support`` and without ``activity:read`` is support staff: ``parameters`` (the
        query) must give a ``reason``, recorded with the export (``activitylog.support.access``).
        """
        caller.require(ROUTE_SCOPES["POST /exports"])
        reason = support_reason(caller, parameters)
        wanted, document = parse_filters(filters)
        now = self.activity.clock()
        # The list's own window (an explicit future `to` too); what is recorded after now is left out.
        low, high = wanted.window(now)
        requester = {"id": caller.subject, "name": caller.name}
        inline = self._inline(caller.org, wanted, ids.lower_bound(low), ids.upper_bound(high), now)
        if inline is not None:
            body, rows = inline
            progress = {"rows": rows, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(), "parts": 0}
            export = self._record(
                caller.org, new_export(requester, document, low, high, now, Status.SUCCESS, "inline", progress, reason)
            )
            return SmallExport(body, export, export.filename(caller.org))
        if not caller.email:
            raise BadRequest(
                f"this export holds more than {self.config.inline_rows:,} rows (or {self.config.inline_bytes:,} bytes, "
                f"or takes more than {self.config.inline_seconds} s to read), so it runs in the background and "
                "emails its link: the token carries no email claim",
                "email",
            )
        export = self._record(
            caller.org, new_export(requester, document, low, high, now, Status.IN_PROGRESS, "email", reason=reason)
        )
        try:
            self.runs.start(export.id, {"export_id": export.id, "org": caller.org, "notify": caller.email})
        except Exception as error:  # noqa: BLE001 - the export must not stay IN_PROGRESS with nothing running it
            logger.exception("could not start the export's state machine", extra={"export_id": export.id})
            self._finish(caller.org, export.id, Status.FAILED, {}, 1, f"the export could not be started: {error}")
            raise Unavailable(
                "the export could not be started; nothing is running, try again shortly", "filters"
            ) from None
        return LargeExport(export)

    def _inline(
        self, org: str, wanted: ActivityFilter, low_id: str, high_id: str, now: datetime
    ) -> Optional[tuple[bytes, int]]:
        """The whole CSV and its rows if the set fits the threshold, else None; reads at most the threshold plus one row.

        Also None once reading has taken ``inline_seconds``: the background path has no 29 s limit.
        """
        limit, writer, chunks, rows = self.config.inline_rows, CsvWriter(header=True), [], 0
        answer_bytes = 0
        high = high_id
        deadline = time.monotonic() + self.config.inline_seconds
        while True:
            page = self.activity.read_page(
                org, wanted, low_id, high, min(PAGE_ROWS, limit - rows + 1), now=now, detail=True
            )
            items = self.activity.shown(org, as_of(page.items, now))  # the CSV's rows: personal fields opened
            if rows + len(items) > limit:
                return None
            for entry in items:
                writer.write(entry)
            chunk = writer.take()
            # Lambda counts the answer as it encodes it: JSON, non-ASCII and quotes escaped.
            answer_bytes += len(json.dumps(chunk.decode("utf-8"))) - 2
            if answer_bytes > self.config.inline_bytes:
                return None
            chunks.append(chunk)
            rows += len(items)
            if page.position is None:
                return b"".join(chunks), rows
            if time.monotonic() >= deadline:
                logger.info("a small export is slow to read: it goes to the background", extra={"rows": rows})
                return None
            high = ids.before(page.position)

    def status(self, caller: Caller, export_id: str, base_url: str) -> dict:
        """``GET /exports/{id}``: another org's export, or another requester's, is a 404."""
        caller.require(ROUTE_SCOPES["GET /exports/{id}"])
        export = self._export(caller.org, export_id, requester=caller.subject)
        url = None
        if export.entry.status is Status.SUCCESS and export.entry.metadata.get("delivery") == "email":
            expires = export.file_expires_at(self.config.link_days)
            if self.activity.clock() >= expires:  # the bucket's rule removes it: a link would lead nowhere
                raise Gone(
                    f"export {export_id}'s file expired at {expires.isoformat(timespec='seconds')} (files are kept "
                    f"{self.config.link_days} days); export again from the Activity Logs page",
                    "id",
                )
            url = self._link(base_url, export, caller.org, STATUS_LINK_SECONDS)
        return export.view(url)

    def download(self, export_id: str, token: Optional[str]) -> str:
        """A presigned URL for the file a link's token grants (404 for any other token, 410 once expired)."""
        link = links.verify(self.link_key, token, export_id)
        export = self._export(link.org, export_id, requester=link.requester)
        if export.entry.status is not Status.SUCCESS or export.entry.metadata.get("delivery") != "email":
            raise NotFound(f"export {export_id} has no file to download ({export.entry.status.value})", "id")
        return self.files.presign(export_key(link.org, export_id), export.filename(link.org), DOWNLOAD_URL_SECONDS)

    # -- the state machine's steps ------------------------------------------------------

    def begin(self, state: dict) -> dict:
        export = self._export(state["org"], state["export_id"])
        upload_id = self.files.start(export_key(state["org"], export.id), export.filename(state["org"]))
        return {**state, "upload_id": upload_id, "cursor": None, "parts": 0, "rows": 0, "bytes": 0, "done": False}

    def write(self, state: dict, remaining_seconds: Callable[[], float]) -> dict:
        """Write parts of at least ``part_bytes`` until the rows end, ``parts_per_step`` parts
        are written, or the invocation's time runs short; the state to carry on from."""
        org, export = state["org"], self._export(state["org"], state["export_id"])
        key, counters = export_key(org, export.id), {name: state[name] for name in ("parts", "rows", "bytes")}
        low_id, high_id = export.id_range
        high = high_id if state["cursor"] is None else ids.before(state["cursor"])
        writer, part_rows, written_now, slowest = CsvWriter(header=counters["parts"] == 0), 0, 0, 0.0

        def put_part() -> None:
            nonlocal part_rows, written_now, slowest
            started = time.monotonic()
            data = writer.take()
            self.files.put_part(key, state["upload_id"], counters["parts"] + 1, data)
            counters.update(
                parts=counters["parts"] + 1, rows=counters["rows"] + part_rows, bytes=counters["bytes"] + len(data)
            )
            self._progress(org, export.id, counters)
            part_rows, written_now = 0, written_now + 1
            slowest = max(slowest, time.monotonic() - started)

        for entry in self._entries(org, export.filter, low_id, high, export.as_of):
            if entry.id == export.id:
                continue  # the export's own entry, in a window that reaches past its request
            writer.write(entry)
            part_rows += 1
            if writer.size >= self.part_size(counters["bytes"]):
                put_part()
                if (
                    written_now >= self.config.parts_per_step
                    or remaining_seconds() < PART_TIME_MARGIN * slowest + STEP_SPARE_SECONDS
                ):
                    return {
                        **state,
                        **counters,
                        "cursor": entry.id,
                        "done": False,
                    }  # the next part starts below this row
        if writer.size or counters["parts"] == 0:  # the last part (S3 takes a short one last), or the header alone
            put_part()
        return {**state, **counters, "cursor": None, "done": True}

    def part_size(self, written: int) -> int:
        """The size of the next part, after ``written`` bytes (``EXPORT_PART_BYTES``, growing past 1,000 parts)."""
        return max(self.config.part_bytes, min(written // PART_GROWTH, MAX_PART_BYTES))

    def complete(self, state: dict) -> dict:
        """Complete the upload, record rows, size and SHA-256 on the export's entry: the email to send."""
        org, export = state["org"], self._export(state["org"], state["export_id"])
        key = export_key(org, export.id)
        parts = self.files.finish(key, state["upload_id"], state["parts"], state["bytes"])
        sha256, size = self.files.digest(key)
        if size != state["bytes"]:
            raise RuntimeError(f"the stored file holds {size} bytes where {state['bytes']} were written")
        result = {"rows": state["rows"], "bytes": size, "parts": parts or state["parts"], "sha256": sha256}
        self._finish(org, export.id, Status.SUCCESS, result, state["parts"] + 1)
        base = self.config.link_base_url
        if not base:
            raise RuntimeError("EXPORT_LINK_BASE_URL is not set: the email needs the API's URL for its link")
        url = self._link(base, export, org, self.config.link_days * 86400)
        return {**state, **result, "email": ready_email(state["notify"], export, result, url, self.config.link_days)}

    def fail(self, state: dict) -> dict:
        """After a failure anywhere (the state machine's Catch): drop the parts, record FAILED, the email to send."""
        message = failure_message(state.get("failure") or {})
        org, export_id = state["org"], state["export_id"]
        if state.get("upload_id"):
            try:
                self.files.abort(export_key(org, export_id), state["upload_id"])
            except Exception:  # noqa: BLE001 - the bucket's lifecycle rule removes an upload left behind
                logger.exception("could not abort the export's upload", extra={"export_id": export_id})
        try:
            self._finish(org, export_id, Status.FAILED, {}, state.get("parts", 0) + 1, message)
        except (Conflict, NotFound):
            logger.warning("the export's entry could not be marked FAILED", extra={"export_id": export_id})
        return {**state, "done": True, "email": failed_email(state["notify"], export_id, message)}

    # -- helpers --------------------------------------------------------------------------

    def _entries(self, org: str, wanted: ActivityFilter, low_id: str, high_id: str, now: datetime) -> Iterator[Entry]:
        """Every entry the filters select in [low_id, high_id] as the list showed them at ``now``, newest
        first, with its detail.

        The next page is read while this one is written (one page ahead, so memory stays two pages).
        """

        def read(high: str):
            return self.activity.read_page(org, wanted, low_id, high, PAGE_ROWS, now=now, detail=True)

        with ThreadPoolExecutor(max_workers=1) as ahead:
            coming = ahead.submit(read, high_id)
            while True:
                page = coming.result()
                if page.position is not None:
                    coming = ahead.submit(read, ids.before(page.position))
                yield from self.activity.shown(org, as_of(page.items, now))  # the CSV's rows: opened
                if page.position is None:
                    return

    def _exporter(self, org: str) -> Caller:
        """The export service itself, writing the export's entry for its requester."""
        return Caller(org, EXPORTER, frozenset({WRITE}))

    def _record(self, org: str, document: dict) -> Export:
        from activitylog.inputs import NewEntry

        entry = self.activity.record(self._exporter(org), NewEntry.model_validate(document), entity_is_entry=True)
        return Export(entry)

    def _export(self, org: str, export_id: str, requester: Optional[str] = None) -> Export:
        """The export, from its entry; a 404 for anything else, or another requester's."""
        ids.check_entry_id(export_id)
        try:
            entry = self.activity.get(Caller(org, requester or EXPORTER, frozenset({READ})), export_id)
        except NotFound:
            entry = None
        export = Export.of(entry) if entry is not None else None
        if export is None or (requester is not None and export.requester != requester):
            raise NotFound(f"no export {export_id}", "id")
        return export

    def _progress(self, org: str, export_id: str, counters: dict) -> None:
        from activitylog.inputs import EntryUpdate

        update = EntryUpdate.model_validate({"metadata": counters, "sequence": counters["parts"]})
        self.activity.update(self._exporter(org), export_id, update)

    def _finish(
        self, org: str, export_id: str, status: Status, metadata: dict, sequence: int, error: Optional[str] = None
    ) -> None:
        from activitylog.inputs import EntryUpdate

        document: dict[str, Any] = {"status": status.value, "sequence": sequence}
        if metadata:
            document["metadata"] = metadata
        if error:
            document["error"] = {"message": error[:4000], "type": "ExportFailed"}
        self.activity.update(self._exporter(org), export_id, EntryUpdate.model_validate(document))

    def _link(self, base_url: str, export: Export, org: str, seconds: int) -> str:
        token = links.mint(self.link_key, export.id, org, export.requester, seconds)
        return f"{base_url.rstrip('/')}/exports/{export.id}/download?token={token}"


def as_of(entries: list[Entry], moment: datetime) -> list[Entry]:
    """The entries the list showed at ``moment``: one recorded later (back-dated, or dated ahead) was not there yet."""
    return [entry for entry in entries if entry.recorded_at is None or entry.recorded_at <= moment]


def failure_message(failure: dict) -> str:
    """What failed, from a Catch's ``{"Error", "Cause"}`` (a Lambda error's Cause is its error document)."""
    error, cause = failure.get("Error") or "Error", failure.get("Cause") or ""
    try:
        document = json.loads(cause)
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("errorMessage"):
        return f"{document.get('errorType') or error}: {document['errorMessage']}"
    return f"{error}: {cause}" if cause else error


def ready_email(to: str, export: Export, result: dict, url: str, days: int) -> dict:
    expires = datetime.fromtimestamp(time.time() + days * 86400, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    filters = export.entry.metadata.get("filters") or {}
    window = export.entry.metadata["window"]
    text = (
        "Your export of the activity log is ready.\n\n"
        f"Rows:     {result['rows']:,}\n"
        f"Size:     {result['bytes']:,} bytes\n"
        f"SHA-256:  {result['sha256']}\n"
        f"Entries:  {window['from']} to {window['to']}\n"
        f"Filters:  {json.dumps(filters) if filters else 'none (every entry of the window)'}\n\n"
        f"Download it here (the link works until {expires}, for you only):\n{url}\n\n"
        f"Export id: {export.id} (the activity entry that records this export)\n"
    )
    return {"to": to, "subject": f"Your activity log export is ready ({result['rows']:,} rows)", "text": text}


def failed_email(to: str, export_id: str, message: str) -> dict:
    text = (
        "Your export of the activity log failed, and there is no file to download.\n\n"
        f"What went wrong: {message}\n\n"
        "Export CSV again from the Activity Logs page; if it fails again, contact support with\n"
        f"the export id: {export_id}\n"
    )
    return {"to": to, "subject": "Your activity log export failed", "text": text}
