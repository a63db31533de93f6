"""Entries: their writes (conditional, retried, all-or-nothing where asked), reads and stream images.

Reads answer domain ``Entry`` objects: pynamodb items stay inside the store package.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, cast

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from activitylog import details, keys
from activitylog.entry import ActorKind, Entry, EntryType, Status
from activitylog.errors import Conflict, Unavailable
from activitylog.query.merge import Fetched
from activitylog.query.planner import Branch, Plan
from activitylog.storage import OrgStorage
from activitylog.store.actors import ActorDirectory
from activitylog.store.alerts import AlertStore
from activitylog.store.catalog import Catalog
from activitylog.store.codec import (
    DETAIL_FIELDS,
    WireItem,
    epoch_ms,
    from_base64,
    from_epoch_ms,
    retried_of,
    retried_value,
)
from activitylog.store.models import EntryItem, EventMarker, KeyItem, table_connection
from activitylog.store.orgmeta import OrgMeta
from activitylog.store.privacy import PrivacyStore
from activitylog.store.retries import WRITE_ATTEMPTS, backoff, busy, condition_failed
from activitylog.store.streams import StreamStore

if TYPE_CHECKING:
    from activitylog.subjects import SubjectKeys

# A transaction holds at most 100 items: an event's entry and its marker are two.
EVENTS_PER_TRANSACTION = 50


class EntryStore(OrgMeta, ActorDirectory, Catalog, StreamStore, AlertStore, PrivacyStore):
    """Reads and writes entries of any org; callers pass the org from verified claims only.

    Reads answer domain ``Entry`` objects: pynamodb items stay inside the store package. Every call
    takes how the org is stored (``activitylog.storage.OrgStorage``): ``store.put(where, entry)``.
    """

    def __init__(self, detail_store: details.DetailStore, subjects: Optional["SubjectKeys"] = None) -> None:
        self.detail_store = detail_store
        # Personal fields are stored sealed under their subject's key (``activitylog.subjects``); None: as sent.
        self.subjects = subjects
        self._last_stored: dict[tuple[str, str], Entry] = {}  # the last write's entries as stored: ``stored_form``
        self._known = {}  # the team members this container knows the directory holds (``ActorDirectory``)
        self._vouched = {}  # the kinds of entries the directory vouched members have (``ActorDirectory``)

    # -- writes -------------------------------------------------------------------------

    def put(self, where: OrgStorage, entry: Entry) -> None:
        """Write a new entry; an id that exists already is refused, never overwritten.

        A condition failure on an item identical to ours is our own earlier attempt whose
        answer was lost (a timeout, a 500 that botocore retried): that is success.
        """
        entry = self._prepared(where, [entry])[0]
        item, uploaded = self._to_item(where, entry, sealed=True)
        with self._removed_on_failure(uploaded):
            try:
                self._retrying(item.save)  # the version attribute makes this conditional on absence
            except PutError as error:
                if not condition_failed(error):
                    raise
                if not self._stored_equals(item):
                    raise Conflict(f"entry {entry.id} exists already", "id") from None
                # else committed by our own earlier attempt, detail object and all

    def put_all(self, where: OrgStorage, entries: list[Entry]) -> None:
        """Write entries all-or-nothing (one transaction, up to 100).

        The ClientRequestToken is derived from the entries' ids, so a retry of the same
        transaction (ours, or botocore's after a lost answer) within 10 minutes is
        answered as the first one was instead of failing on the items it wrote.
        """
        token = hashlib.sha256(" ".join(e.id for e in entries).encode()).hexdigest()[:36]
        try:
            self._write_together(where, entries, token)
        except TransactWriteError as error:
            if any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons):
                raise Conflict("an entry of the batch exists already", "entries") from None
            raise

    def put_new(self, where: OrgStorage, entries: list[Entry]) -> set[str]:
        """Write entries whose ids may be stored already (every attempt of a keyed write mints the same ids):
        a stored one is left exactly as it is; the rest are written, together. Answers the ids found stored.

        Each write is conditional on the item's absence, so concurrent attempts store each entry
        once whoever wins. A transaction refused because some items exist names them (its
        cancellation reasons, in order): they are set aside and the rest written again.
        """
        stored: set[str] = set()
        pending = list({entry.id: entry for entry in entries}.values())
        while len(pending) > 1:
            try:
                self._write_together(where, pending, uuid.uuid4().hex)
                return stored
            except TransactWriteError as error:
                reasons = error.cancellation_reasons or []
                existing = {
                    entry.id
                    for entry, reason in zip(pending, reasons, strict=False)
                    if reason and reason.code == "ConditionalCheckFailed"
                }
                if not existing:
                    raise
                stored |= existing
                pending = [entry for entry in pending if entry.id not in existing]
        for entry in pending:  # one entry is a plain conditional put: no transaction's extra write unit
            try:
                self.put(where, entry)
            except Conflict:
                stored.add(entry.id)
        return stored

    def put_provider_events(self, where: OrgStorage, entries: list[Entry]) -> dict[str, str]:
        """Write provider events' entries (each with its ``source``) unless their event is recorded already:
        answers, for each entry found recorded, the id of the entry that records it (a stored one is left
        exactly as it is); the rest are written, together.

        Each entry is written with its event's marker (``keys.event_marker_keys``), both conditional on
        their absence, in one transaction: concurrent deliveries of one event store it once whoever wins,
        whatever time each one dated it by and whatever shard count each writer had. A transaction refused
        because some events are recorded names them (its cancellation reasons, in order): they are set
        aside and the rest written again.
        """
        recorded: dict[str, str] = {}
        by_event: dict[tuple[str, str], Entry] = {}
        for entry in entries:  # one event twice in a batch: one entry, one write
            source = cast(dict, entry.source)  # a provider event's entry has one
            event = (source["provider"], source["event_id"])
            if event in by_event:
                recorded[entry.id] = by_event[event].id
            else:
                by_event[event] = entry
        pending = list(by_event.values())
        while pending:
            chunk, rest = pending[:EVENTS_PER_TRANSACTION], pending[EVENTS_PER_TRANSACTION:]
            try:
                # A fresh token per attempt: the ids may repeat across deliveries, their content does not.
                self._write_together(where, chunk, uuid.uuid4().hex, with_markers=True)
                pending = rest
                continue
            except TransactWriteError as error:
                reasons = error.cancellation_reasons or []
                found = {}
                for index, entry in enumerate(chunk):
                    marker, item = (reasons[2 * index : 2 * index + 2] + [None, None])[:2]
                    if marker and marker.code == "ConditionalCheckFailed":  # the event is recorded: under which id
                        found[entry.id] = (marker.raw_item or {}).get("eid", {}).get("S", entry.id)
                    elif item and item.code == "ConditionalCheckFailed":  # recorded before events had markers
                        found[entry.id] = entry.id
                if not found:
                    raise
                recorded |= found
                pending = [entry for entry in chunk if entry.id not in found] + rest
        return recorded

    def event_recorded(self, org: str, provider: str, event_id: str) -> Optional[str]:
        """The id of the entry that records ``provider``'s event ``event_id``, or None (a consistent read of its marker)."""
        try:
            return EventMarker.get(*keys.event_marker_keys(org, provider, event_id), consistent_read=True).entry_id
        except DoesNotExist:
            return None

    def events_recorded(self, org: str, provider: str, event_ids: list[str]) -> dict[str, str]:
        """Of ``provider``'s events ``event_ids``, those recorded: event id -> the id of the entry that records it
        (consistent reads of their markers, 100 a request)."""
        by_key = {keys.event_marker_keys(org, provider, event_id): event_id for event_id in event_ids}
        found: dict[str, str] = {}
        for marker in EventMarker.batch_get(list(by_key), consistent_read=True):
            found[by_key[(marker.pk, marker.sk)]] = marker.entry_id
        return found

    def _write_together(self, where: OrgStorage, entries: list[Entry], token: str, with_markers: bool = False) -> None:
        """One transaction of conditional puts (retried while DynamoDB is busy); a failure removes its detail objects.
        ``with_markers``: each entry's event marker goes in just before it (a refused one answers the entry id it holds)."""
        entries = self._prepared(where, entries)
        items: list[tuple[Model, Optional[Condition], Optional[str]]] = []
        uploaded: list[str] = []
        for entry in entries:
            item, keys_ = self._to_item(where, entry, sealed=True)
            if with_markers:
                source = cast(dict, entry.source)  # markers are written for provider events, which have one
                pk, sk = keys.event_marker_keys(where.org, source["provider"], source["event_id"])
                items.append(
                    (
                        EventMarker(pk, sk, entry_id=entry.id, expires_at=entry.expires_at),
                        EventMarker.pk.does_not_exist(),
                        "ALL_OLD",
                    )
                )
            items.append((item, None, None))
            uploaded += keys_

        def write() -> None:
            with TransactWrite(connection=table_connection().connection, client_request_token=token) as transaction:
                for item, condition, return_values in items:
                    transaction.save(item, condition=condition, return_values=return_values)

        with self._removed_on_failure(uploaded):
            self._retrying(write)

    def replace(
        self, where: OrgStorage, entry: Entry, expected_status: Status, key: Optional[tuple[str, int]] = None
    ) -> bool:
        """Save a changed entry if nobody changed it meanwhile; False when they did.

        The version attribute and the expected status make it a compare-and-set: a late
        or duplicate job update can never overwrite a terminal status. A losing attempt
        removes the detail object it uploaded; a winning one removes the one it replaced.

        ``key`` (an update's ``Idempotency-Key`` marker and its expiry): the marker is written in
        the same transaction, only if absent, so the update lands once; raises ``KeyUsed`` when
        the marker is there already (an earlier attempt applied it) and changes nothing.
        """
        previous_ref = entry.detail_ref
        # An update of an entry counted when it was written: its subjects' counts stay as they are.
        updated = self._sealed(where.org, self._masked(where, [entry]), count=False)[0]
        item, uploaded = self._to_item(where, updated, sealed=True)
        item.version = entry.version
        condition = EntryItem.status == expected_status.value
        if key is None:

            def write() -> None:
                item.save(condition=condition)
        else:
            marker = KeyItem(key[0], expiration=key[1])

            def write() -> None:
                with TransactWrite(connection=table_connection().connection) as transaction:
                    transaction.save(item, condition=condition)
                    transaction.save(marker, condition=_key_free())

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except PutError as error:
            if condition_failed(error):
                return False
            raise
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in error.cancellation_reasons or []]
            if key is not None and reasons[1:2] == ["ConditionalCheckFailed"]:  # only a keyed write is a transaction
                raise KeyUsed(key[0]) from None
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        if previous_ref and previous_ref != item.detail_ref:
            self.detail_store.delete([previous_ref])
        entry.version = item.version
        entry.detail_ref = item.detail_ref
        stored = self._last_stored.get((where.org, entry.id))
        if stored is not None:  # as the store now holds it: the update's answer needs no sealing again
            stored.version, stored.detail_ref = item.version, item.detail_ref
        return True

    def note_retry(
        self, where: OrgStorage, original_id: str, run_id: str, status: Status, finished_at: Optional[datetime]
    ) -> bool:
        """Write a retry run's state on the entry it retried (its ``rr`` list column, in every index it is in):
        False when that entry is gone, or holds this state or a later one already.

        One UpdateItem of that attribute alone, conditional on the stored state being older (``codec.retried_value``
        orders them), so reports arriving in any order or twice never move it back. It adds to the version,
        so a compare-and-set save of the entry decided on what it read before (``replace``) loses and decides
        again: neither write is lost.
        """
        shard = self._shard_holding(where, original_id)
        if shard is None:
            return False
        value = retried_value(run_id, status.value, finished_at)
        connection = table_connection().connection

        def write() -> None:
            connection.update_item(
                EntryItem.Meta.table_name,
                keys.table_pk(where.org, shard),
                original_id,
                actions=[EntryItem.retried.set(value), EntryItem.version.add(1)],
                condition=EntryItem.pk.exists() & (EntryItem.retried.does_not_exist() | (EntryItem.retried < value)),
            )

        try:
            self._retrying(write)
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def _shard_holding(self, where: OrgStorage, entry_id: str) -> Optional[int]:
        """The shard an entry is stored under: the only one for an org that never had more (no read), else looked up."""
        if where.read_shards == 1:
            return 0
        first = keys.shard_of(entry_id, where.read_shards)
        shards = [first] + [s for s in range(where.read_shards) if s != first]
        found = list(
            EntryItem.batch_get([(keys.table_pk(where.org, s), entry_id) for s in shards], attributes_to_get=["pk"])
        )
        return keys.shard_number(found[0].pk) if found else None

    # -- what an Idempotency-Key decided (``activitylog.idempotency.WriteKey``) -----------------

    def claim_key(self, marker: str, body_hash: str, now: datetime, expires_at: int) -> datetime:
        """When a keyed write's first attempt began: ``now`` if this is the first (its marker is written now),
        else the time its marker holds. The same key with another body is a ``Conflict``."""
        for _ in range(3):  # a marker past its expiry may be taken over, or vanish (TTL) between the two calls
            item = KeyItem(marker, expiration=expires_at, started=epoch_ms(now), body=body_hash)
            try:
                self._retrying(lambda: item.save(condition=_key_free()))  # noqa: B023 - run in this iteration
                return cast(datetime, from_epoch_ms(item.started))  # to the millisecond, as a later attempt reads it
            except PutError as error:
                if not condition_failed(error):
                    raise
            try:
                stored = KeyItem.get(marker, consistent_read=True)
            except DoesNotExist:
                continue
            if stored.body != body_hash:
                raise Conflict("this Idempotency-Key was used with a different body", "idempotency-key")
            return cast(datetime, from_epoch_ms(stored.started))  # every marker is written with its start
        raise Unavailable(
            "the idempotency records keep changing; nothing was written, retry after a second", "idempotency-key"
        )

    def key_used(self, marker: str) -> bool:
        """Whether an update's key marker is there (and not past its expiry): the update was applied."""
        try:
            return KeyItem.get(marker, consistent_read=True).expiration >= time.time()
        except DoesNotExist:
            return False

    def mark_key(self, marker: str, expires_at: int) -> None:
        """Write an update's key marker, unless it is there already (an update that changed nothing is applied too)."""
        try:
            self._retrying(lambda: KeyItem(marker, expiration=expires_at).save(condition=_key_free()))
        except PutError as error:
            if not condition_failed(error):
                raise

    @contextmanager
    def _removed_on_failure(self, uploaded: list[str]) -> Iterator[None]:
        """Delete the detail objects a write uploaded if the write fails: no item points at them."""
        try:
            yield
        except BaseException:
            self.detail_store.delete(uploaded)
            raise

    def _retrying(self, write: Callable[[], Any]) -> Any:
        """Run a write, retrying with backoff while DynamoDB is busy; then 503, nothing written."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return write()
            except (PutError, TransactWriteError, UpdateError) as error:
                if not busy(error):
                    raise
                if attempt == WRITE_ATTEMPTS - 1:
                    raise Unavailable("the log is busy; nothing was written, retry after a second", "entries") from None
                backoff(attempt)

    def _stored_equals(self, item: "EntryItem") -> bool:
        try:
            stored = EntryItem.get(item.pk, item.sk, consistent_read=True)
        except DoesNotExist:
            return False
        # The version is set on the item only once a save succeeds; the content decides.
        mine, theirs = item.serialize(), stored.serialize()
        mine.pop("ver", None), theirs.pop("ver", None)
        return mine == theirs

    def expiries(
        self, org: str, shard: int, after_id: Optional[str], limit: int
    ) -> tuple[list[tuple[str, int, Optional[str]]], Optional[str]]:
        """One page of a shard's entries, oldest first, after ``after_id``: (id, expires_at, the key of its
        offloaded detail or None) each, and the last id read when more may follow."""
        condition = EntryItem.sk > after_id if after_id else None
        answer = table_connection().query(
            keys.table_pk(org, shard),
            range_key_condition=condition,
            limit=limit,
            attributes_to_get=["sk", "exp", "bref"],
        )
        found = [
            (raw["sk"]["S"], int(raw["exp"]["N"]), raw.get("bref", {}).get("S")) for raw in answer.get("Items", [])
        ]
        last = answer.get("LastEvaluatedKey")
        return found, (last["sk"]["S"] if last else None)

    def set_expiry(self, org: str, shard: int, entry_id: str, expires_at: int) -> bool:
        """Give an existing entry another expiry; False if it is gone or has that expiry already.

        The version moves too, so a job update decided on the entry as it was read before
        loses its compare-and-set and decides again, instead of writing the old expiry back.
        """
        connection = table_connection().connection
        try:
            connection.update_item(
                EntryItem.Meta.table_name,
                keys.table_pk(org, shard),
                entry_id,
                actions=[EntryItem.expires_at.set(expires_at), EntryItem.version.add(1)],
                condition=EntryItem.pk.exists() & (EntryItem.expires_at != expires_at),
            )
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True

    # -- reads --------------------------------------------------------------------------

    def get(self, where: OrgStorage, entry_id: str, consistent: bool = False) -> Optional[Entry]:
        """The whole entry, or None.

        Tries the id's shard under today's count first; an entry written under another
        count (the org's shards changed) is in one of the others, all read in one round.
        """
        org, shards = where.org, where.read_shards
        first = keys.shard_of(entry_id, shards)
        item = self._get_item(keys.table_pk(org, first), entry_id, consistent)
        if item is None and shards > 1:
            others = [(keys.table_pk(org, s), entry_id) for s in range(shards) if s != first]
            found = list(EntryItem.batch_get(others, consistent_read=consistent))
            item = found[0] if found else None
        if item is None:
            return None
        entry = self._to_entry(item, detail=True)
        if entry.detail_missing and item.detail_ref:
            # Replaced meanwhile (its old object is deleted after the replace): read the new one.
            fresh = self._get_item(item.pk, entry_id, consistent=True)
            if fresh is not None and fresh.detail_ref != item.detail_ref:
                item, entry = fresh, self._to_entry(fresh, detail=True)
        if entry.detail_missing:
            from activitylog.observability import logger, metrics

            logger.error("detail object missing", extra={"entry_id": entry_id, "key": item.detail_ref})
            metrics.add_metric(name="DetailMissing", unit="Count", value=1)
        entry.shard = keys.shard_number(item.pk)  # a later save goes back to this very item
        return entry

    def get_at(self, org: str, shard: int, entry_id: str) -> Optional[Entry]:
        """The whole entry stored under a known shard, read consistently (the sweeper's, from an index key)."""
        item = self._get_item(keys.table_pk(org, shard), entry_id, consistent=True)
        if item is None:
            return None
        entry = self._to_entry(item, detail=True)
        entry.shard = shard
        return entry

    def open_jobs_due(self, now: datetime, limit: int) -> list[tuple[str, int, str]]:
        """IN_PROGRESS jobs whose stall deadline has passed, as ``(org, shard, id)``: one range query per
        partition of the ``open_jobs`` index (keys only), never a scan; at most ``limit``."""
        return [(org, int(shard), sk) for org, shard, sk in self._due(now, limit, quotas=False)]

    def quotas_due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """Quota windows that counted uses past their limit and are over, as ``(org, name)``: their summary is due."""
        return [(org, sk[len(keys.quota_sk("")) :]) for org, _, sk in self._due(now, limit, quotas=True)]

    def _due(self, now: datetime, limit: int, quotas: bool) -> list[tuple[str, str, str]]:
        """``(org, the last part of pk, sk)`` of the ``open_jobs`` items due by ``now``: jobs, or quota windows."""
        connection = table_connection()
        due: list[tuple[str, str, str]] = []
        for partition in range(keys.OPEN_JOB_PARTITIONS):
            start = None
            while len(due) < limit:
                answer = connection.query(
                    keys.open_job_pk(partition),
                    range_key_condition=EntryItem.odl <= int(now.timestamp()),
                    index_name=keys.OPEN_JOBS,
                    limit=limit - len(due),
                    exclusive_start_key=start,
                )
                for raw in answer.get("Items", []):
                    org, last = raw["pk"]["S"].rsplit(keys.SEP, 1)
                    if raw["sk"]["S"].startswith(keys.quota_sk("")) == quotas:
                        due.append((org, last, raw["sk"]["S"]))
                start = answer.get("LastEvaluatedKey")
                if not start:
                    break
        return due

    @staticmethod
    def _get_item(pk: str, entry_id: str, consistent: bool) -> Optional["EntryItem"]:
        try:
            return EntryItem.get(pk, entry_id, consistent_read=consistent)
        except DoesNotExist:
            return None

    def fetch(
        self, branch: Branch, low_id: str, high_id: str, limit: int, plan: Optional[Plan] = None, detail: bool = False
    ) -> Fetched[Entry]:
        """One Query of one branch, newest first, ids within [low_id, high_id], minus the plan's residual.

        The entries hold the list columns only (indexes project nothing else), and their
        detail too when ``detail`` is asked of a table branch (its items hold it); an index
        branch's entries get theirs from ``read_details``.
        """
        low, high = branch.range_bounds(low_id, high_id)
        sort_key = EntryItem.sk if branch.index is None else EntryItem.ssk
        answer = table_connection().query(
            branch.hash_key,
            range_key_condition=sort_key.between(low, high),
            filter_condition=_residual_condition(plan) if plan and plan.has_residual else None,
            index_name=branch.index,
            limit=limit,
            scan_index_forward=False,
            return_consumed_capacity="TOTAL",
        )
        items, with_detail = [], []
        for raw in answer.get("Items", []):
            item = WireItem(raw)
            entry = self._to_entry(item)
            entry.shard = keys.shard_number(item.pk)  # index items carry the table's key too
            items.append(entry)
            if detail and branch.index is None:
                entry.version = item.version
                with_detail.append((entry, item))
        self._fill_details(with_detail)
        last_key = answer.get("LastEvaluatedKey")
        return Fetched(
            items=items,
            next_id=last_key["sk"]["S"] if last_key else None,
            scanned=answer.get("ScannedCount", len(items)),
            capacity=float(answer.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)),
        )

    def read_details(self, org: str, entries: list[Entry]) -> None:
        """Fill in the detail of entries read from an index (BatchGetItem, 100 keys a call).

        An entry whose item is gone meanwhile (TTL) keeps an empty detail.
        """
        for start in range(0, len(entries), 100):
            chunk = {entry.id: entry for entry in entries[start : start + 100]}
            wanted = [
                (keys.table_pk(org, cast(int, entry.shard)), entry.id) for entry in chunk.values()
            ]  # read: shard known
            found = EntryItem.batch_get(wanted, attributes_to_get=["pk", "sk", "bd", "bref", "ra", "fa"])
            self._fill_details([(chunk[item.sk], item) for item in found])

    # -- stream images -------------------------------------------------------------------

    def entry_from_image(self, image: dict) -> Optional[tuple[str, Entry]]:
        """(org, the whole entry) from a stream record's image, or None when the item is not an entry.

        Images come as Lambda delivers them (binary values in base64). An offloaded detail
        replaced since (its object deleted) is read from the version the bucket still keeps.
        """
        if image.get("sk", {}).get("S") in keys.META_ITEMS or "ty" not in image:
            return None
        item = EntryItem.from_raw_data({name: from_base64(value) for name, value in image.items()})
        entry = self._to_entry(item, detail=True, any_version=True)
        entry.shard = keys.shard_number(item.pk)
        return keys.org_of(item.pk), entry

    # -- item <-> entry -----------------------------------------------------------------

    @staticmethod
    def _masked(where: OrgStorage, entries: list[Entry]) -> list[Entry]:
        """The entries with their masked fields masked (``activitylog.masking``), in place: the entry the writer is
        answered holds the markers too. First, before anything else is done to what is stored."""
        if where.masking is not None:
            for entry in entries:
                where.masking.apply(entry)
        return entries

    def _sealed(self, org: str, entries: list[Entry], count: bool = True) -> list[Entry]:
        """The entries as they are stored: their personal fields sealed (``SubjectKeys.seal``), when keys are set."""
        if self.subjects is None:
            return entries
        sealed = self.subjects.seal(org, entries, count=count)
        self._last_stored = {(org, entry.id): entry for entry in sealed[:100]}
        return sealed

    def _prepared(self, where: OrgStorage, entries: list[Entry]) -> list[Entry]:
        """The entries as they are to be stored, in this order: masked (the values no copy may hold), sealed (the
        personal fields, under their subjects' keys), and their members noted in the directory (it holds every
        stored entry's kinds, and names as the entries hold them: ``store.actors``). Every write of new entries
        goes through here before its write."""
        sealed = self._sealed(where.org, self._masked(where, entries))
        self.note_actors(where.org, sealed)
        return sealed

    def stored_form(self, org: str, entry: Entry) -> Entry:
        """``entry`` as the store holds it (personal fields sealed): what an answer kept for retries may hold.
        The entry just written is remembered; another is sealed again (AES-SIV: the same tokens), uncounted."""
        if self.subjects is None:
            return entry
        remembered = self._last_stored.get((org, entry.id))
        if remembered is not None and remembered.status is entry.status and remembered.version == entry.version:
            return remembered
        return self.subjects.seal(org, [entry], count=False)[0]

    def revealed(self, org: str, entries: list[Entry]) -> list[Entry]:
        """Copies of stored entries as they are shown: personal fields opened, or ``[erased]``."""
        return self.subjects.reveal_entries(org, entries) if self.subjects is not None else entries

    def _to_item(self, where: OrgStorage, entry: Entry, sealed: bool = False) -> tuple["EntryItem", list[str]]:
        """The entry's item, and the detail object uploaded for it (if its detail is large). ``sealed``: the
        caller masked and sealed it already (``_prepared``, which every write of new entries goes through), else
        it is masked and sealed here (counted as new)."""
        if not sealed:
            entry = self._sealed(where.org, self._masked(where, [entry]))[0]
        org, shards, retention_days = where.org, where.write_shards, where.hot_days
        entity = entry.entity or {}
        item = EntryItem(
            **keys.item_keys(
                org,
                entry.id,
                shards,
                entry.type,
                entry.status,
                ActorKind(entry.actor["kind"]),
                entry.actor["id"],
                entity.get("type"),
                entity.get("id"),
                shard=entry.shard,
                correlation_id=entry.correlation_id,
                stalls_at=entry.stalls_at,
                trace_id=entry.trace_id,
            ),
            type=entry.type.value,
            status=entry.status.value,
            actor_kind=entry.actor["kind"],
            actor_id=entry.actor["id"],
            actor_name=entry.actor["name"],
            action=entry.action,
            event=entry.event,
            entity_type=entity.get("type"),
            entity_id=entity.get("id"),
            entity_label=entity.get("label") or None,
            expires_at=entry.expires_at,
            recorded_at=epoch_ms(entry.recorded_at),
            finished_at=epoch_ms(entry.finished_at),
            retried=_retried_attribute(entry.retried),
        )
        blob = details.pack({name: getattr(entry, name) for name in DETAIL_FIELDS})
        if len(blob) <= details.OFFLOAD_BYTES:
            item.detail = blob
            return item, []
        key = details.detail_key(org, entry.id, retention_days)
        self.detail_store.put(key, blob, retention_days)
        item.detail_ref = key
        return item, [key]

    def _to_entry(self, item: EntryItem | WireItem, detail: bool = False, any_version: bool = False) -> Entry:
        entity = None
        if item.entity_type:
            entity = {"type": item.entity_type, "id": item.entity_id, "label": item.entity_label or ""}
        entry = Entry(
            id=item.sk,
            type=EntryType(item.type),
            status=Status(item.status),
            actor={"kind": item.actor_kind, "id": item.actor_id, "name": item.actor_name},
            action=item.action,
            event=item.event,
            entity=entity,
            expires_at=int(item.expires_at),
            retried=retried_of(item.retried),
        )
        if detail:
            self._fill_detail(entry, item, any_version)
            entry.version = item.version
        return entry

    def _fill_details(self, pairs: list[tuple[Entry, Any]]) -> None:
        """Fill in each entry's detail from its item; the offloaded ones read from S3 together, not one by one."""
        offloaded = self.detail_store.get_many([item.detail_ref for _, item in pairs if item.detail_ref])
        for entry, item in pairs:
            self._fill_detail(entry, item, offloaded=offloaded)

    def _fill_detail(
        self,
        entry: Entry,
        item: EntryItem | WireItem,
        any_version: bool = False,
        offloaded: Optional[dict[str, Optional[bytes]]] = None,
    ) -> None:
        if item.detail_ref:
            blob = (
                offloaded[item.detail_ref]
                if offloaded is not None
                else self.detail_store.get(item.detail_ref, any_version)
            )
        else:
            blob = item.detail
        if blob is None:
            entry.detail_missing = True
        for name, value in details.unpack(blob).items():
            setattr(entry, name, value)
        entry.recorded_at = from_epoch_ms(item.recorded_at)
        entry.finished_at = from_epoch_ms(item.finished_at)
        entry.stalls_at = datetime.fromtimestamp(item.odl, timezone.utc) if item.odl else None
        entry.detail_ref = item.detail_ref


def _retried_attribute(retried: Optional[dict]) -> Optional[str]:
    if not retried:
        return None
    finished = retried.get("finished_at")
    finished_at = datetime.fromisoformat(finished.replace("Z", "+00:00")) if finished else None
    return retried_value(retried["run_id"], retried["status"], finished_at)


class KeyUsed(Exception):
    """An update's Idempotency-Key marker exists: an earlier attempt applied it (``EntryStore.replace``)."""


def _key_free():
    """A key marker may be written where there is none, or where one has expired (TTL deletes lag by days)."""
    return KeyItem.id.does_not_exist() | (KeyItem.expiration < int(time.time()))


def _residual_condition(plan: Plan):
    """What no key covers, as a FilterExpression (reads are still counted by the merge)."""
    conditions: list[Condition] = []
    if plan.residual_types:
        conditions.append(EntryItem.type.is_in(*sorted(t.value for t in plan.residual_types)))
    if plan.residual_user:
        conditions.append((EntryItem.actor_kind == ActorKind.USER.value) & (EntryItem.actor_id == plan.residual_user))
    if plan.residual_entity_type:
        conditions.append(EntryItem.entity_type == plan.residual_entity_type)
    if plan.residual_entity_id:
        conditions.append(EntryItem.entity_id == plan.residual_entity_id)
    condition = None
    for part in conditions:
        condition = part if condition is None else condition & part
    return condition
