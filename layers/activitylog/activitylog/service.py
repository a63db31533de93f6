"""The operations behind the API: record, record a batch, read one, update a job, list.

Handlers call these with a ``Caller`` built from verified token claims only; the org
never comes from a body or a query string.

A function gets its service from ``container().service`` (``activitylog.wiring``), and calls, say,
``service.record(caller, NewEntry.model_validate(body))``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional, cast

from activitylog import ids
from activitylog.config import Settings, make_cursor_key
from activitylog.entry import ORG_ID, ORG_ID_CHARACTERS, Entry, EntryType
from activitylog.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unavailable
from activitylog.masking import FieldMask, MaskKeys, compile_patterns
from activitylog.query import cursor
from activitylog.query.filters import ActivityFilter, ListRequest
from activitylog.query.merge import Page, merge_newest_first
from activitylog.query.planner import plan_query
from activitylog.retention_policy import RetentionPolicy
from activitylog.rules import apply_update, new_entry, stall_deadline
from activitylog.scopes import ROUTE_SCOPES, WRITE
from activitylog.signing import Key
from activitylog.storage import OrgStorage
from activitylog.store import EntryStore, backoff

if TYPE_CHECKING:  # pydantic stays off the read path; writes import it when they run
    from activitylog.details import DetailStore
    from activitylog.idempotency import WriteKey
    from activitylog.inputs import EntryUpdate, NewEntry, Source
    from activitylog.warm.tier import WarmTier

MAX_BATCH = 100
QUOTA_GRACE_SECONDS = 30  # a quota window's summary waits this long past its end (clocks of other writers)
MAX_CHAIN = 500  # entries /related answers at most; the list's correlation_id filter pages past it
_ORG_ID = re.compile(ORG_ID)
Members = list[dict[str, str]]  # GET /members' items: {"id", "name"} each


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the verified JWT: the org, the subject and its scopes."""

    org: str
    subject: str
    scopes: frozenset[str]
    name: Optional[str] = None
    email: Optional[str] = None  # where a background export mails its link

    def __post_init__(self) -> None:
        # The org leads every key: one with the key separator in it could reach another's keys.
        if not _ORG_ID.fullmatch(self.org):
            raise Unauthorized(f"the token's org_id must be {ORG_ID_CHARACTERS}", "authorization")

    def require(self, scopes: frozenset[str]) -> None:
        if not self.scopes & scopes:
            raise Forbidden(f"this token needs one of the scopes: {', '.join(sorted(scopes))}", "scope")


@dataclass
class ListResult:
    items: list[dict]
    next_cursor: Optional[str]
    page: Page

    def to_dict(self) -> dict:
        return {"items": self.items, "next_cursor": self.next_cursor}


class ActivityService:
    """The operations, given their settings, store and clock: nothing here reads the environment
    (``ActivityService(Settings(...), EntryStore(DetailStore(bucket)))``, or the container's).
    """

    def __init__(
        self,
        config: Settings,
        store: EntryStore,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        cursor_key: Optional[Key] = None,
        warm: Optional[WarmTier] = None,
    ) -> None:
        self.config = config
        self.store = store
        self.warm = warm  # entries older than the table's (``warm.tier``); None: the table holds the whole retention
        self.clock = clock
        self._cursor_key = cursor_key
        self._shards_recorded: dict[str, int] = {}
        # What a container last read of each org's meta items: (when, shards written, its own policy, its privacy).
        self._org_meta: dict[str, tuple[float, int, Optional[RetentionPolicy], Optional[dict]]] = {}
        self._masks: dict[str, tuple[tuple[str, ...], FieldMask]] = {}  # each org's masked fields, compiled
        self.mask_keys = MaskKeys(store, config.service_key)
        self._quotas_spent: set[tuple[str, str]] = set()  # (org, quota window) this container found used up

    @property
    def cursor_key(self) -> Key:
        """The key that signs page cursors: given, or built from the settings when a list first needs it."""
        if self._cursor_key is None:
            self._cursor_key = make_cursor_key(self.config)
        return self._cursor_key

    # -- shards -------------------------------------------------------------------------

    def storage(self, org: str, fresh: bool = False) -> OrgStorage:
        """How ``org`` is stored: today's write shards, every shard it has ever written to (lowering the
        count must not hide entries), and its hot and archive days (``retention``). The store is given
        this; nothing else works any of it out."""
        policy = self.retention(org, fresh)
        shards = self.config.org(org).shards
        return OrgStorage(
            org,
            write_shards=shards,
            read_shards=max(shards, self._meta(org)[1]),
            hot_days=policy.hot_days,
            archive_days=policy.archive_days,
            table_days=self.config.hot_table_days if self.warm is not None else None,
            masking=self._masking(org),
        )

    def settings_storage(self, org: str) -> OrgStorage:
        """``storage(org)`` for the entries recording a change of the org's settings: they are not masked. They
        hold the settings as the service shows them (a stream's or an alert's secret only as "set" or "changed"),
        never a field's value, and no pattern of the org's may hide a change of its own settings."""
        return replace(self.storage(org), masking=None)

    def _masking(self, org: str) -> FieldMask:
        """The org's masked fields (the built-in ones and its own, as last read) and its fingerprint key."""
        patterns = tuple((self._meta(org)[3] or {}).get("patterns", ()))
        cached = self._masks.get(org)
        if cached is None or cached[0] != patterns:
            cached = (patterns, FieldMask(compile_patterns(list(patterns)), lambda: self.mask_keys.key(org)))
            self._masks[org] = cached
        return cached[1]

    def _recorded(self, where: OrgStorage) -> OrgStorage:
        """``where``, its write shards recorded in the org's history before its first write here."""
        if self._shards_recorded.get(where.org, 0) < where.write_shards:
            self.store.record_shards(where)
            self._shards_recorded[where.org] = where.write_shards
        return where

    def _meta(self, org: str) -> tuple[float, int, Optional[RetentionPolicy], Optional[dict]]:
        """The org's shard history, policy and privacy settings, read in one request at most every ``policy_seconds``."""
        cached = self._org_meta.get(org)
        if cached is None or time.monotonic() - cached[0] > self.config.policy_seconds:
            cached = (time.monotonic(), *self.store.org_meta(org))
            self._org_meta[org] = cached
        return cached

    # -- what features ask of the store (they get storage from here, never recompute it) ---------

    @property
    def detail_store(self) -> DetailStore:
        """Where large details (and the webhook queue's large bodies) go: one S3 client per container."""
        return self.store.detail_store

    def stored(self, org: str, entry_id: str, consistent: bool = False) -> Optional[Entry]:
        """The whole entry as the table holds it, even past the org's retention (TTL not yet run): support's view."""
        return self.store.get(self.storage(org), entry_id, consistent=consistent)

    def stored_at(self, org: str, shard: int, entry_id: str) -> Optional[Entry]:
        """The whole entry under a known shard (from an index key), read consistently."""
        return self.store.get_at(org, shard, entry_id)

    def save(self, org: str, entry: Entry, expected_status: Any) -> bool:
        """Save a changed entry (it stays under its own shard) if nobody changed it meanwhile; False when they did.
        A retry run it moves to another status (the sweeper's "stalled") tells the entry it retried."""
        where = self.storage(org)
        if not self.store.replace(where, entry, expected_status=expected_status):
            return False
        if entry.status is not expected_status:
            self._note_retry(where, entry)
        return True

    def open_jobs_due(self, now: datetime, limit: int) -> list[tuple[str, int, str]]:
        """IN_PROGRESS jobs past their stall deadline, as ``(org, shard, id)``."""
        return self.store.open_jobs_due(now, limit)

    def entry_from_image(self, image: dict) -> Optional[tuple[str, Entry]]:
        """(org, the whole entry) from a stream record's image; None for an item that is not an entry."""
        return self.store.entry_from_image(image)

    def change_retention(self, org: str, policy: RetentionPolicy, entry: Entry) -> RetentionPolicy:
        """Write a new policy and the entry recording it, both or neither (a ``Conflict`` if it changed meanwhile);
        this container uses it at once."""
        written = self.store.change_retention(self._recorded(self.storage(org)), policy, entry)
        self.remember(org, written)
        return written

    def stored_policy(self, org: str) -> Optional[RetentionPolicy]:
        """The org's own policy as the table holds it now (a consistent read), or None."""
        return self.store.org_meta(org, consistent=True)[1]

    def restamp_progress(self, org: str, version: int, restamp: Any) -> bool:
        """Record how far a change has been applied; False when a newer change has replaced it."""
        return self.store.restamp_progress(org, version, restamp)

    def expiries(self, org: str, shard: int, after_id: Optional[str], limit: int):
        """One page of a shard's entries, oldest first: ``(id, expires_at, offloaded detail key)`` each, and where to go on."""
        return self.store.expiries(org, shard, after_id, limit)

    def set_expiry(self, org: str, shard: int, entry_id: str, expires_at: int) -> bool:
        """Give an existing entry another expiry; False if it is gone or has that expiry already."""
        return self.store.set_expiry(org, shard, entry_id, expires_at)

    # -- retention ----------------------------------------------------------------------

    def retention(self, org: str, fresh: bool = False) -> RetentionPolicy:
        """The org's retention policy: its own, or the deployment's default until it sets one.

        Each container reads it at most every ``policy_seconds`` (a change reaches every
        writer within that time; the re-stamp of existing entries waits for it).
        """
        if fresh:
            self._org_meta.pop(org, None)
        policy = self._meta(org)[2]
        if policy is None:
            policy = RetentionPolicy(self.config.org(org).retention_days, self.config.archive_days)
        return policy

    def remember(self, org: str, policy: RetentionPolicy) -> None:
        """A policy this container has just written: used at once, here."""
        _, shards, _, privacy = self._meta(org)
        self._org_meta[org] = (time.monotonic(), shards, policy, privacy)

    def privacy(self, org: str, fresh: bool = False) -> Optional[dict]:
        """The org's privacy settings (``{patterns, updated_at, updated_by, version}``), or None: the built-in ones."""
        if fresh:
            self._org_meta.pop(org, None)
        return self._meta(org)[3]

    def change_privacy(self, org: str, settings: dict, version: Optional[int], entry: Entry) -> dict:
        """Write new privacy settings and the entry recording them, both or neither (``Conflict`` if they changed
        meanwhile); this container masks with them at once, the others within ``policy_seconds``."""
        written = self.store.save_privacy(self._recorded(self.settings_storage(org)), settings, version, entry)
        _, shards, policy, _ = self._meta(org)
        self._org_meta[org] = (time.monotonic(), shards, policy, written)
        return written

    # -- writes -------------------------------------------------------------------------

    def record(
        self, caller: Caller, new: NewEntry, entity_is_entry: bool = False, key: Optional[WriteKey] = None
    ) -> Entry:
        """Record one entry. ``entity_is_entry``: the entry is the very record it is about (an
        export's job entry), so its entity id becomes its own id, the one its owner is given.

        ``key``: the write's Idempotency-Key decides the entry (``_keyed_now``): every attempt
        mints the same id and writes it only if absent; a later one answers what is stored.
        """
        caller.require(ROUTE_SCOPES["POST /activities"])
        where = self.storage(caller.org)
        now = self._keyed_now(caller.org, key)
        entry_id = key.entry_id(caller.org, 0, new.occurred_at or now) if key else None
        entry = new_entry(new, caller.subject, now, where.hot_days, entry_id=entry_id, table_days=where.table_days)
        if entity_is_entry and entry.entity:
            entry.entity["id"] = entry.id
        if key is None:
            self.store.put(self._recorded(where), entry)
        elif self.store.put_new(self._recorded(where), [entry]):
            entry = self.store.get(where, entry.id, consistent=True) or entry  # an earlier attempt's
        self._note_retry(where, entry)
        return entry

    def _keyed_now(self, org: str, key: Optional[WriteKey]) -> datetime:
        """The write's "now": for a keyed write, when its first attempt began (kept in the key's marker), so
        every attempt derives the same ids and decides the same way; else the clock."""
        now = self.clock()
        if key is None:
            return now
        from activitylog.idempotency import KEY_WINDOW_SECONDS

        return self.store.claim_key(key.marker(org), key.body_hash(), now, int(now.timestamp()) + KEY_WINDOW_SECONDS)

    def record_batch(self, caller: Caller, documents: Any, key: Optional[WriteKey] = None) -> dict:
        """Validate every entry; write the valid ones in one all-or-nothing transaction.

        The answer has one result per input, in order: ``accepted`` with the new id, or
        ``rejected`` with the field and reason. A failed write rejects the whole batch.
        ``key``: as for ``record``, each entry's id derives from the key and its position, and
        a later attempt writes only what is not stored (nothing, after a whole first attempt).
        """
        from pydantic import ValidationError

        from activitylog.inputs import NewEntry, validation_message

        caller.require(ROUTE_SCOPES["POST /activities/batch"])
        if not isinstance(documents, list) or not documents:
            raise BadRequest("entries must be a non-empty list", "entries")
        if len(documents) > MAX_BATCH:
            raise BadRequest(f"entries holds {len(documents)} entries; at most {MAX_BATCH} per batch", "entries")
        results: list[dict] = []
        accepted: list[Entry] = []
        where = self.storage(caller.org)
        now = self._keyed_now(caller.org, key)
        for index, document in enumerate(documents):
            try:
                new = NewEntry.model_validate(document)
                entry_id = key.entry_id(caller.org, index, new.occurred_at or now) if key else None
                entry = new_entry(
                    new,
                    caller.subject,
                    now if key else self.clock(),
                    where.hot_days,
                    entry_id=entry_id,
                    table_days=where.table_days,
                )
            except ValidationError as error:
                field, message = validation_message(error)
                results.append(
                    {"index": index, "status": "rejected", "field": f"entries.{index}.{field}", "reason": message}
                )
                continue
            except BadRequest as error:
                results.append(
                    {
                        "index": index,
                        "status": "rejected",
                        "field": f"entries.{index}.{error.field}",
                        "reason": error.message,
                    }
                )
                continue
            accepted.append(entry)
            results.append({"index": index, "status": "accepted", "id": entry.id})
        if accepted and key is None:
            self.store.put_all(self._recorded(where), accepted)
        elif accepted:
            self.store.put_new(self._recorded(where), accepted)
        for entry in accepted:
            self._note_retry(where, entry)
        return {
            "accepted": len(accepted),
            "rejected": len(documents) - len(accepted),
            "results": results,
        }

    def record_events(self, org: str, events: list[NewEntry], recorded_by: str) -> list[tuple[str, bool]]:
        """Record events from outside (a provider's webhooks) exactly once each: ``(id, recorded now)``
        per event, False (and the id of the entry that records it) for one recorded before (a
        redelivery, a replay, a concurrent duplicate).

        Once means once per (org, provider, the provider's event id): ``EntryStore.put_provider_events`` writes
        each entry with its event's marker, keyed by that identity alone, both conditional on their
        absence. The entry's id still derives from its ``source`` and when it occurred (``ids.derived_id``).
        """
        Caller(org, recorded_by, frozenset())  # the org leads every key: refuse one that could reach another's
        where = self.storage(org)
        now = self.clock()
        entries = [
            new_entry(
                event, recorded_by, now, where.hot_days, entry_id=_provider_event_id(event), table_days=where.table_days
            )
            for event in events
        ]
        recorded = self.store.put_provider_events(self._recorded(where), entries) if entries else {}
        return [(recorded.get(entry.id, entry.id), entry.id not in recorded) for entry in entries]

    def event_recorded(self, org: str, provider: str, event_id: str) -> Optional[str]:
        """The id of the entry that records ``provider``'s event ``event_id`` in ``org``, or None."""
        Caller(org, "webhooks", frozenset())
        return self.store.event_recorded(org, provider, event_id)

    def events_recorded(self, org: str, provider: str, event_ids: list[str]) -> dict[str, str]:
        """Which of ``provider``'s events ``event_ids`` ``org`` has recorded: event id -> its entry's id."""
        Caller(org, "webhooks", frozenset())
        return self.store.events_recorded(org, provider, event_ids) if event_ids else {}

    def record_within_quota(
        self, org: str, new: NewEntry, recorded_by: str, quota: str, limit: int, window_seconds: int = 60
    ) -> Optional[Entry]:
        """Record ``new`` for an internal service, unless the org's ``quota`` already counts ``limit``
        entries in this window (None then): what outsiders can trigger must not fill the table.

        What is not recorded is counted in the window's item, and the window is due for a summary
        (``close_quotas``, on the sweeper's schedule) once it is over.
        """
        now = self.clock()
        window = int(now.timestamp() // window_seconds)
        name, expires_at = f"{quota}#{window}", int(now.timestamp()) + 2 * 86400
        if (org, name) not in self._quotas_spent:
            if self.store.take_quota(org, name, limit, expires_at=expires_at):
                return self.record(Caller(org, recorded_by, frozenset({WRITE})), new)
            if len(self._quotas_spent) > 10_000:
                self._quotas_spent.clear()
            self._quotas_spent.add((org, name))  # known spent: no conditional write that must fail
        self.store.count_over_quota(
            org, name, due_at=(window + 1) * window_seconds + QUOTA_GRACE_SECONDS, expires_at=expires_at
        )
        return None

    def close_quotas(
        self, now: datetime, summary: "Callable[[str, int, datetime], Optional[tuple[NewEntry, str]]]", limit: int = 500
    ) -> int:
        """Record one summary entry per quota window that is over and did not record everything:
        ``summary(quota, uses not recorded, the window's last millisecond)`` answers the entry and who records it
        (None: nothing to record). Each summary's id derives from its window: written once, however
        many sweeps run. Answers how many it wrote.
        """
        from activitylog import ids

        written = 0
        for org, name in self.store.quotas_due(now, limit):
            counts = self.store.quota_window(org, name)
            if counts is None or counts[2] is None:
                continue  # gone, or closed meanwhile
            end = datetime.fromtimestamp(counts[2] - QUOTA_GRACE_SECONDS, timezone.utc) - timedelta(milliseconds=1)
            described = summary(name.rsplit("#", 1)[0], counts[1], end) if counts[1] else None
            entry = None
            if described:
                new, recorded_by = described
                where = self.storage(org)
                entry_id = ids.derived_id(end, f"quota:{name}")
                entry = new_entry(new, recorded_by, now, where.hot_days, entry_id=entry_id, table_days=where.table_days)
            written += self.store.close_quota(self._recorded(self.storage(org)), name, entry)
        return written

    def update(self, caller: Caller, entry_id: str, update: EntryUpdate, key: Optional[WriteKey] = None) -> Entry:
        """Job progress and completion (see ``apply_update`` for the rules). ``key``: an update under an
        Idempotency-Key is applied once, whenever and however often it is sent again."""
        caller.require(ROUTE_SCOPES["PATCH /activities/{id}"])
        return self.amend(caller.org, entry_id, update, key=key)

    def amend(
        self,
        org: str,
        entry_id: str,
        update: EntryUpdate,
        reported_at: Optional[datetime] = None,
        attempts: int = 8,
        key: Optional[WriteKey] = None,
    ) -> Entry:
        """Apply a job's report to its entry, for a caller already allowed to (``update``, the ingest).

        Each attempt decides on a consistent read and saves with a compare-and-set of
        version and status; a lost race backs off with jitter and decides again.
        ``reported_at`` is when the report was made (its stall deadline counts from it).
        With a ``key``, the save also writes the key's marker, only if absent: an update
        found applied already answers the entry as it is now and changes nothing.
        """
        from activitylog.store import KeyUsed

        ids.check_entry_id(entry_id)
        where = self.storage(org)
        if where.table_days is not None and ids.can_exist(entry_id):
            frozen = self.clock() - timedelta(days=where.table_days)
            if ids.occurred_at(entry_id) < frozen:
                self.find(org, entry_id)  # a 404 if there is no such entry (in either tier, within retention)
                raise Conflict(
                    f"entry {entry_id} occurred more than {where.table_days} days ago: entries that old are "
                    "compacted into the warm tier and can no longer change",
                    "id",
                )
        marker = None
        if key is not None:
            from activitylog.idempotency import KEY_WINDOW_SECONDS

            marker = (key.marker(org), int(self.clock().timestamp()) + KEY_WINDOW_SECONDS)
        for attempt in range(attempts):
            entry = self._visible(self.store.get(where, entry_id, consistent=True), org)
            if entry is None:
                raise NotFound(f"no entry {entry_id}", "id")
            current = entry.status
            now = self.clock()
            if update.metadata and where.masking is not None:  # masked as sent: a report sent again changes nothing
                update = update.model_copy(update={"metadata": where.masking.document(update.metadata)})
            try:
                changed = apply_update(entry, update, min(reported_at, now) if reported_at else now)
            except Conflict:
                if marker and self.store.key_used(marker[0]):
                    return self.find(org, entry_id)  # applied before the job finished: answered, not refused
                raise
            if not changed:
                if marker:
                    self.store.mark_key(
                        *marker
                    )  # applied too: sent again after later updates, it must not be applied then
                if entry.status.terminal:  # a final report sent again: its original may not have heard of it
                    self._note_retry(where, entry)
                return entry  # a retry, or a report older than what the entry shows already
            try:
                if self.store.replace(where, entry, expected_status=current, key=marker):
                    if entry.status is not current:
                        self._note_retry(where, entry)
                    return entry
            except KeyUsed:
                return self._visible(self.store.get(where, entry_id, consistent=True), org) or entry
            backoff(attempt)
        raise Unavailable(f"entry {entry_id} is being updated by others; nothing was changed, retry shortly", "id")

    def record_once(
        self,
        org: str,
        new: NewEntry,
        recorded_by: str,
        entry_id: str,
        sequence: Optional[int] = None,
        reported_at: Optional[datetime] = None,
    ) -> Optional[Entry]:
        """Record an entry under the id its producer minted; None if that id is stored already.

        The write is conditional on the id's absence, so a redelivered or reordered report of
        the same entry never makes a second one (the ingest then applies it as an update).
        """
        Caller(org, recorded_by, frozenset())  # the org leads every key: refuse one that could reach another's
        ids.check_entry_id(entry_id, "entry_id")
        where = self.storage(org)
        now = self.clock()
        entry = new_entry(new, recorded_by, now, where.hot_days, entry_id=entry_id, table_days=where.table_days)
        entry.sequence = sequence
        if reported_at:
            entry.stalls_at = stall_deadline(entry, min(reported_at, now))
        try:
            self.store.put(self._recorded(where), entry)
        except Conflict:
            return None
        self._note_retry(where, entry)
        return entry

    def _note_retry(self, where: OrgStorage, run: Entry) -> None:
        """A retry run that started or finished: its state goes on the entry it retried (``Entry.retried``), so the
        list shows what became of a failure without reading its chain. Written by whatever records the run (the
        ingest's reports, ``PATCH``), after the run's own write: a report sent again writes it again, never twice.

        An original older than ``HotTableDays`` is frozen in the warm tier (``amend``): it is left as it is, and
        the run is recorded all the same.
        """
        if not run.retry_of or run.type is EntryType.USER_ACTION or not ids.can_exist(run.retry_of):
            return  # not a run (the caller's "Retried …" carries ``retry_of`` too)
        if where.table_days is not None:
            if ids.occurred_at(run.retry_of) < self.clock() - timedelta(days=where.table_days):
                return
        self.store.note_retry(where, run.retry_of, run.id, run.status, run.finished_at)

    # -- reads --------------------------------------------------------------------------

    def get(self, caller: Caller, entry_id: str) -> Entry:
        """One entry as the caller is shown it (personal fields opened, or ``[erased]``)."""
        caller.require(ROUTE_SCOPES["GET /activities/{id}"])
        return self.shown(caller.org, [self.find(caller.org, entry_id)])[0]

    # -- privacy: stored sealed, shown opened (activitylog.subjects) ------------

    def shown(self, org: str, entries: list[Entry]) -> list[Entry]:
        """Copies of stored entries as they are shown: personal fields opened, or ``[erased]``."""
        return self.store.revealed(org, entries)

    def shown_document(self, org: str, document: Any) -> Any:
        """A view (any JSON value) built from stored entries, as it is shown."""
        return self.store.subjects.reveal(org, document) if self.store.subjects is not None else document

    def as_stored(self, org: str, entry: Entry) -> Entry:
        """An entry with its personal fields as the store holds them (sealed): what a kept answer may hold."""
        return self.store.stored_form(org, entry)

    def find(self, org: str, entry_id: str) -> Entry:
        """One whole entry of ``org``, for a caller its route has let in already; another org's id is a 404."""
        ids.check_entry_id(entry_id)
        if self.warm is not None and ids.can_exist(entry_id) and entry_id < self.warm.boundary(org):
            entry = self.warm.get(org, entry_id)
            if entry is not None and entry.occurred_at < self._retention_start(org, self.clock()):
                entry = None
        else:
            entry = self._visible(self.store.get(self.storage(org), entry_id), org)
        if entry is None:
            # Another org's id answers exactly like a missing one.
            raise NotFound(f"no entry {entry_id}", "id")
        return entry

    def _visible(self, entry: Optional[Entry], org: str) -> Optional[Entry]:
        """The entry, unless it is past its expiry (every stored entry has one) or the org's current retention
        (TTL deletes lag by days)."""
        if entry is None:
            return None
        now = self.clock()
        if cast(int, entry.expires_at) < now.timestamp() or entry.occurred_at < self._retention_start(org, now):
            return None
        return entry

    def _retention_start(self, org: str, now: datetime) -> datetime:
        return now - timedelta(days=self.retention(org).hot_days)

    def list(self, caller: Caller, request: ListRequest, now: Optional[datetime] = None) -> ListResult:
        """One page, newest first, of the entries matching every filter axis.

        A page reads at most the merge's budget; it may then hold fewer entries than the
        limit (even none) and a ``next_cursor`` that resumes exactly where reading stopped.
        """
        caller.require(ROUTE_SCOPES["GET /activities"])
        now = now or self.clock()
        wanted = request.filter  # the filter set as the caller asked for it
        digest = wanted.digest()
        directory_read = False
        if request.cursor:
            position = cursor.decode(self.cursor_key, request.cursor, caller.org, digest)
            low_id, high_id, window_high = position.low_id, ids.before(position.position), position.high_id
        else:
            low, high = wanted.window(now)
            low_id, high_id = ids.lower_bound(low), ids.upper_bound(high)
            window_high = high_id
            if wanted.user and (wanted.types or wanted.entity_type):
                # A member who never recorded such an entry (the members directory vouches): no entry is read,
                # over any window. Asked on a first page only: a page that read entries has its answer.
                types = {entry_type.value for entry_type in wanted.types}
                may, asked = self.store.may_match(caller.org, wanted.user, types, wanted.entity_type)
                if not may:
                    return ListResult([], None, Page([], None, 0, 1.0, 1, rounds=1))
                directory_read = asked
        page = self.read_page(caller.org, wanted, low_id, high_id, request.limit, now)
        if directory_read:  # one consistent read of one small item, before the page's own
            page = replace(page, queries=page.queries + 1, rounds=page.rounds + 1, capacity=page.capacity + 1.0)
        next_cursor = None
        if page.position:
            next_cursor = cursor.encode(self.cursor_key, caller.org, digest, page.position, (low_id, window_high))
        return ListResult([entry.list_view() for entry in self.shown(caller.org, page.items)], next_cursor, page)

    def read_page(
        self,
        org: str,
        wanted: ActivityFilter,
        low_id: str,
        high_id: str,
        limit: int,
        now: Optional[datetime] = None,
        detail: bool = False,
    ) -> Page:
        """The newest ``limit`` entries of ``org`` with ids in [low_id, high_id] matching ``wanted``.

        The list's page, and an export's: the same plan and merge, so both answer the same
        rows. ``detail`` adds each entry's changes, metadata and error (an export's columns).
        The caller has checked the scopes already.
        """
        now = now or self.clock()
        # Entries older than the org's retention are gone even before TTL deletes them.
        read_low = max(low_id, ids.lower_bound(self._retention_start(org, now)))
        if read_low > high_id:
            return Page([], None, 0, 0.0, 0)
        # The table answers ids at or above the boundary, the warm tier those below it (``warm.tier``).
        boundary = self.warm.boundary(org) if self.warm is not None else ids.LOWEST_ID
        page: Page = Page([], None, 0, 0.0, 0)
        if high_id >= boundary:
            page = self._read_table(org, wanted, max(read_low, boundary), high_id, limit, now, detail)
            if page.position is not None or read_low >= boundary:
                return page
        assert self.warm is not None
        wanted_more = limit - len(page.items)
        if wanted_more == 0:  # full from the table: the next page starts in the warm tier
            return replace(page, position=page.items[-1].id)
        older = self.warm.page(org, wanted, read_low, min(high_id, ids.before(boundary)), wanted_more, detail)
        return replace(
            page,
            items=page.items + older.items,
            position=older.position,
            scanned=page.scanned + older.scanned,
            queries=page.queries + older.queries,
        )

    def _read_table(
        self, org: str, wanted: ActivityFilter, low_id: str, high_id: str, limit: int, now: datetime, detail: bool
    ) -> Page:
        plan = plan_query(
            org,
            self.storage(org).read_shards,
            types=wanted.types,
            statuses=wanted.statuses,
            user=wanted.user,
            entity_type=wanted.entity_type,
            entity_id=wanted.entity_id,
            correlation_id=wanted.correlation_id,
            trace_id=wanted.trace_id,
        )
        now_seconds = now.timestamp()

        def fetch(branch, low, high, size):
            return self.store.fetch(branch, low, high, size, plan, detail=detail)

        page = merge_newest_first(
            plan.branches, fetch, limit, low_id, high_id, keep=lambda entry: entry.expires_at >= now_seconds
        )
        if detail and plan.index is not None:
            self.store.read_details(org, page.items)
        return page

    def members(self, caller: Caller, search: str, limit: int) -> Members:
        """The caller's org's team members (user actors its log has seen) whose name or id holds ``search``."""
        caller.require(ROUTE_SCOPES["GET /members"])
        return self.store.members(caller.org, search, limit)

    def catalog(self, caller: Caller, only: Optional[EntryType] = None) -> dict:
        """The caller's org's vocabulary: the types, statuses and entity types (each with its label), the actions
        and webhook events its log has seen (count, last seen; ``only`` one type's), and the job types with
        whether the log can retry them. The counts are the org's catalogue items: one Query, no scan."""
        caller.require(ROUTE_SCOPES["GET /catalog"])
        from activitylog.entry import EntityType, Status, iso_time
        from activitylog.jobtypes import JOB_TYPES
        from activitylog.store.codec import from_epoch_ms

        def labelled(values: Any) -> list[dict]:
            return [{"value": v.value, "label": v.value.replace("_", " ").capitalize()} for v in values]

        counts = self.store.catalog_counts(caller.org)
        for items in counts.values():
            for item in items:
                item["last_seen"] = iso_time(cast(datetime, from_epoch_ms(item.pop("last_seen_ms"))))
        events_shown = only in (None, EntryType.WEBHOOK)
        return {
            "types": labelled(EntryType),
            "statuses": labelled(Status),
            "entity_types": labelled(EntityType),
            "actions": [item for item in counts["actions"] if only is None or item["type"] == only.value],
            "events": counts["events"] if events_shown else [],
            "job_types": [
                {"name": job.name, "label": job.label, "retryable": job.retryable} for job in JOB_TYPES.values()
            ],
        }

    def related(self, caller: Caller, entry_id: str) -> dict:
        """The whole chain an entry belongs to, oldest first: the user action, the jobs it started,
        the webhooks they sent and the retries, whatever the entry's place in it.

        The chain is the entry's ``correlation_id``, or (for an entry without one) its own id,
        which its retries carry; an entry id as chain names the entry that began it. One key-exact
        query of ``by_correlation`` (and a GetItem for such a root), never a scan. Past
        ``MAX_CHAIN`` entries ``complete`` is false: ``GET /activities?correlation_id=…`` pages on.
        """
        caller.require(ROUTE_SCOPES["GET /activities/{id}/related"])
        entry = self.find(caller.org, entry_id)
        chain = entry.correlation_id or entry.id
        page = self.read_page(
            caller.org, ActivityFilter(correlation_id=chain), ids.LOWEST_ID, ids.HIGHEST_ID, MAX_CHAIN
        )
        members = {member.id: member for member in page.items}
        members.setdefault(entry.id, entry)
        if ids.is_entry_id(chain) and chain not in members:
            try:
                members[chain] = self.find(caller.org, chain)
            except NotFound:
                pass  # the entry that began the chain is gone (past retention)
        items = [entry.list_view() for entry in self.shown(caller.org, [members[key] for key in sorted(members)])]
        return {"correlation_id": chain, "items": items, "complete": page.position is None}


def _provider_event_id(event: NewEntry) -> str:
    """The id of a provider event's entry (``ids.derived_id``): its source and its time, which webhooks.mapping sets."""
    source, occurred_at = cast("Source", event.source), cast(datetime, event.occurred_at)
    return ids.derived_id(occurred_at, f"{source.provider}:{source.event_id}")
