"""All data access: the pynamodb model of an entry's item, and every read and write.

The table and its indexes are created from template.yaml; this module only names the
attributes (short names keep index items, which repeat the list columns, inside one
write unit). Key values come from ``keys``.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
import zlib
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from activitylog import details, keys
from activitylog.entry import ActorKind, Entry, EntryType, Status
from activitylog.errors import Conflict, Unavailable
from activitylog.query.merge import Fetched
from activitylog.query.planner import Branch, Plan
from activitylog.retention.policy import RetentionPolicy, Restamp

# The detail blob's fields; everything else is a list column or a key.
DETAIL_FIELDS = ("changes", "metadata", "error", "correlation_id", "retry_of", "source", "recorded_by", "sequence")


# The projected list columns (their DynamoDB names). template.yaml declares the indexes;
# pynamodb needs them here too to plan queries, and a test keeps the two identical.
LIST_COLUMNS = ["ty", "st", "ak", "ai", "an", "ac", "ev", "et", "ei", "el", "exp"]


def _index(name: str, hash_attr: str) -> type:
    meta = type("Meta", (), {"index_name": name, "projection": IncludeProjection(LIST_COLUMNS)})
    attrs = {"Meta": meta, hash_attr: UnicodeAttribute(hash_key=True), "ssk": UnicodeAttribute(range_key=True)}
    return type(f"{name}_index", (GlobalSecondaryIndex,), attrs)


class _OpenJobs(GlobalSecondaryIndex):
    """IN_PROGRESS jobs by stall deadline (keys only): the sweeper's index (``keys.OPEN_JOBS``)."""

    class Meta:
        index_name = keys.OPEN_JOBS
        projection = KeysOnlyProjection()

    opk = UnicodeAttribute(hash_key=True)
    odl = NumberAttribute(range_key=True)


class EntryItem(Model):
    """One entry's item. ``sk`` is the entry id; ``occurred_at`` is the id's time part.

    Stored attribute names are short, so index items (which repeat the list columns) stay
    inside one write unit; they are what is on disk and must not change:

    =====  ============  =====  ================  =====  ==========================
    name   attribute     name   attribute         name   attribute
    =====  ============  =====  ================  =====  ==========================
    ty     type          ev     event             fa     finished_at
    st     status        et     entity_type       bd     detail (the packed blob)
    ak     actor_kind    ei     entity_id         bref   detail_ref (its S3 key)
    ai     actor_id      el     entity_label      ver    version
    an     actor_name    exp    expires_at (TTL)  shw    shards_written (meta item)
    ac     action        ra     recorded_at       qn     quota_used (meta item)
                                                  qo     quota_over (meta item)
    =====  ============  =====  ================  =====  ==========================

    ``bd``/``bref`` keep the detail's old name (body) on disk, so stored items read as they are.

    The key attributes (``pk``, ``sk``, ``ssk``, ``tpk``, ``upk``, ``epk``, ``rpk``, ``cpk``,
    ``opk``, ``odl``) are explained in ``activitylog.keys``.
    """

    class Meta:
        table_name = "activity-log"  # set by ``bind`` from the environment

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ssk = UnicodeAttribute()  # {status}#{id}: every index's sort key
    tpk = UnicodeAttribute()
    upk = UnicodeAttribute(null=True)
    epk = UnicodeAttribute(null=True)
    rpk = UnicodeAttribute(null=True)
    cpk = UnicodeAttribute(null=True)  # {org}#{correlation_id}
    opk = UnicodeAttribute(null=True)  # open#{n}: IN_PROGRESS jobs only
    odl = NumberAttribute(null=True)  # epoch s: when an IN_PROGRESS job stalls without progress
    # List columns, projected into every index.
    type = UnicodeAttribute(attr_name="ty")
    status = UnicodeAttribute(attr_name="st")
    actor_kind = UnicodeAttribute(attr_name="ak")
    actor_id = UnicodeAttribute(attr_name="ai")
    actor_name = UnicodeAttribute(attr_name="an")
    action = UnicodeAttribute(attr_name="ac")
    event = UnicodeAttribute(attr_name="ev")
    entity_type = UnicodeAttribute(attr_name="et", null=True)
    entity_id = UnicodeAttribute(attr_name="ei", null=True)
    entity_label = UnicodeAttribute(attr_name="el", null=True)
    expires_at = NumberAttribute(attr_name="exp")  # TTL, epoch seconds
    # Table only.
    recorded_at = NumberAttribute(attr_name="ra", null=True)  # epoch ms
    finished_at = NumberAttribute(attr_name="fa", null=True)  # epoch ms: when it reached a final status
    detail = BinaryAttribute(attr_name="bd", null=True, legacy_encoding=False)  # details.pack(); None when offloaded
    detail_ref = UnicodeAttribute(attr_name="bref", null=True)  # the S3 key of an offloaded detail
    version = VersionAttribute(attr_name="ver")
    # Only on the org's meta items (keys.meta_pk): the highest shard count it ever wrote with,
    # and a quota's uses (keys.quota_sk).
    shards_written = NumberAttribute(attr_name="shw", null=True)
    quota_used = NumberAttribute(attr_name="qn", null=True)
    quota_over = NumberAttribute(attr_name="qo", null=True)  # uses past the limit: what a summary reports

    by_type = _index(keys.BY_TYPE, "tpk")()
    by_user = _index(keys.BY_USER, "upk")()
    by_entity = _index(keys.BY_ENTITY, "epk")()
    by_record = _index(keys.BY_RECORD, "rpk")()
    by_correlation = _index(keys.BY_CORRELATION, "cpk")()
    open_jobs = _OpenJobs()

    @property
    def id(self) -> str:
        return self.sk


class _WireItem:
    """An item as a Query answers it (botocore's ``{"S": …}`` form), read like an ``EntryItem``.

    Reads build no pynamodb object: its per-attribute deserialization cost an export twice the
    CPU of the Query itself (bench/export.py). The names and types come from the model.
    """

    _ATTRIBUTES = {name: (attribute.attr_name, attribute.attr_type) for name, attribute in EntryItem.get_attributes().items()}
    __slots__ = tuple(_ATTRIBUTES)

    def __init__(self, raw: dict) -> None:
        for name, (stored, kind) in self._ATTRIBUTES.items():
            value = raw.get(stored)
            if value is not None:
                value = value[kind]
                if kind == "N":
                    value = int(value) if value.lstrip("-").isdigit() else float(value)
            setattr(self, name, value)


class PolicyItem(Model):
    """The org's retention policy: a meta item (``keys.meta_pk(org)`` / ``keys.RETENTION_META``), not an entry.

    =====  ==================  =====  ==================================================
    name   attribute           name   attribute
    =====  ==================  =====  ==================================================
    hot    hot_days            rs     restamp state (pending, running, done)
    arc    archive_days        rph    restamp phases ("entries,archive")
    ua     updated_at (ms)     rcur   restamp cursor
    ub     updated_by          rne    entries restamped; ``rno`` archive objects
    ver    version (each change)
    =====  ==================  =====  ==================================================
    """

    class Meta:
        table_name = "activity-log"  # set by ``bind``

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    hot_days = NumberAttribute(attr_name="hot")
    archive_days = NumberAttribute(attr_name="arc")
    updated_at = NumberAttribute(attr_name="ua")
    updated_by = UnicodeAttribute(attr_name="ub")
    restamp_state = UnicodeAttribute(attr_name="rs")
    restamp_phases = UnicodeAttribute(attr_name="rph", null=True)
    restamp_cursor = UnicodeAttribute(attr_name="rcur", null=True)
    restamp_entries = NumberAttribute(attr_name="rne", default=0)
    restamp_objects = NumberAttribute(attr_name="rno", default=0)
    version = VersionAttribute(attr_name="ver")


class EventMarker(Model):
    """A provider event recorded, and the entry that records it (``keys.event_marker_keys``): not an entry
    (no ``ty``, so neither an index, the archive nor the stream consumers take it). Gone by TTL with its entry.

    =====  ==================
    name   attribute
    =====  ==================
    eid    the entry's id
    exp    expires_at (TTL)
    =====  ==================
    """

    class Meta:
        table_name = "activity-log"  # set by ``bind``

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entry_id = UnicodeAttribute(attr_name="eid")
    expires_at = NumberAttribute(attr_name="exp")


# A transaction holds at most 100 items: an event's entry and its marker are two.
EVENTS_PER_TRANSACTION = 50


class KeyItem(Model):
    """What an ``Idempotency-Key`` decided (``activitylog.idempotency.WriteKey``), in the idempotency table beside
    Powertools' records (its key ``id``, its TTL attribute ``expiration``); ids start ``key#``.

    A new write's marker holds when its first attempt began (the time its entries' ids derive
    from, when they name none) and its body's hash; an update's marker says it was applied.
    """

    class Meta:
        table_name = "idempotency"  # set by ``bind``

    id = UnicodeAttribute(hash_key=True)
    expiration = NumberAttribute()  # epoch s: Powertools' TTL attribute
    started = NumberAttribute(attr_name="t0", null=True)  # epoch ms of the first attempt
    body = UnicodeAttribute(attr_name="bh", null=True)  # sha256 of the body


# The DynamoDB clients' limits, so a request fails over to a 503 before Lambda stops the function
# (API functions: Timeout 15 s). A call that gets no answer costs at most ATTEMPTS × (CONNECT_TIMEOUT
# + READ_TIMEOUT) plus botocore's backoff (< 1 s): 7 s. A failed request makes at most two such calls
# in a row (its own, then Powertools removing its in-progress record): 14 s. DynamoDB answers in
# milliseconds; a call waiting 2 s for its first byte is not coming back soon.
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
ATTEMPTS = 2


def client_config():
    """The botocore Config of every DynamoDB client (pynamodb's models', Powertools' idempotency records)."""
    from botocore.config import Config

    return Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                  retries={"mode": "standard", "total_max_attempts": ATTEMPTS})


def bind(table_name: str, region: Optional[str] = None, keys_table: Optional[str] = None) -> None:
    """Point the models at a table (the endpoint comes from AWS_ENDPOINT_URL_DYNAMODB, the region from the
    settings), and ``KeyItem`` at the idempotency table."""
    for model in (EntryItem, PolicyItem, EventMarker, KeyItem):
        if model is KeyItem:
            if not keys_table:
                continue
            model.Meta.table_name = keys_table
        else:
            model.Meta.table_name = table_name
        model.Meta.region = region  # None: botocore's own (AWS_DEFAULT_REGION, which Lambda sets beside AWS_REGION)
        # pynamodb's "LEGACY" retries: botocore's standard mode with 1 + max_retry_attempts attempts in all
        model.Meta.connect_timeout_seconds = CONNECT_TIMEOUT
        model.Meta.read_timeout_seconds = READ_TIMEOUT
        model.Meta.max_retry_attempts = ATTEMPTS - 1
        model._connection = None
    # Build the botocore client here, on one thread: pynamodb creates it lazily without a
    # lock, so the merge's parallel first reads would each build their own (~70 ms apiece).
    EntryItem._get_connection().connection.client


# Error codes that mean "DynamoDB is busy, try again": throttling, and a transaction that
# met another one on the same item. Codes inside a cancelled transaction's reasons too.
RETRYABLE = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "TransactionConflictException", "TransactionInProgressException", "InternalServerError",
    "ServiceUnavailable", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded",
})
WRITE_ATTEMPTS = 5
BACKOFF_BASE = 0.05  # seconds; full jitter, doubling per attempt
BACKOFF_CAP = 1.0


def backoff(attempt: int) -> None:
    """Sleep a random time below an exponential cap ("full jitter"), so racing writers spread out."""
    time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)))


class EntryStore:
    """Reads and writes entries of any org; callers pass the org from verified claims only.

    Reads answer domain ``Entry`` objects: pynamodb items stay inside this module.

    >>> store = EntryStore(DetailStore(settings.detail_bucket))
    >>> store.put("org_1", entry, shards=2, retention_days=730)
    >>> store.get("org_1", entry.id, shards=2).detail_view()
    """

    def __init__(self, detail_store: details.DetailStore) -> None:
        self.detail_store = detail_store

    # -- writes -------------------------------------------------------------------------

    def put(self, org: str, entry: Entry, shards: int, retention_days: int) -> None:
        """Write a new entry; an id that exists already is refused, never overwritten.

        A condition failure on an item identical to ours is our own earlier attempt whose
        answer was lost (a timeout, a 500 that botocore retried): that is success.
        """
        item, uploaded = self._to_item(org, entry, shards, retention_days)
        with self._removed_on_failure(uploaded):
            try:
                self._retrying(item.save)  # the version attribute makes this conditional on absence
            except PutError as error:
                if not _condition_failed(error):
                    raise
                if self._stored_equals(item):
                    return  # committed by our own earlier attempt, detail object and all
                raise Conflict(f"entry {entry.id} exists already", "id") from None

    def put_all(self, org: str, entries: list[Entry], shards: int, retention_days: int) -> None:
        """Write entries all-or-nothing (one transaction, up to 100).

        The ClientRequestToken is derived from the entries' ids, so a retry of the same
        transaction (ours, or botocore's after a lost answer) within 10 minutes is
        answered as the first one was instead of failing on the items it wrote.
        """
        token = hashlib.sha256(" ".join(e.id for e in entries).encode()).hexdigest()[:36]
        try:
            self._write_together(org, entries, shards, retention_days, token)
        except TransactWriteError as error:
            if any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons):
                raise Conflict("an entry of the batch exists already", "entries") from None
            raise

    def put_new(self, org: str, entries: list[Entry], shards: int, retention_days: int) -> set[str]:
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
                self._write_together(org, pending, shards, retention_days, uuid.uuid4().hex)
                return stored
            except TransactWriteError as error:
                reasons = error.cancellation_reasons or []
                existing = {entry.id for entry, reason in zip(pending, reasons) if reason and reason.code == "ConditionalCheckFailed"}
                if not existing:
                    raise
                stored |= existing
                pending = [entry for entry in pending if entry.id not in existing]
        for entry in pending:  # one entry is a plain conditional put: no transaction's extra write unit
            try:
                self.put(org, entry, shards, retention_days)
            except Conflict:
                stored.add(entry.id)
        return stored

    def put_provider_events(self, org: str, entries: list[Entry], shards: int, retention_days: int) -> dict[str, str]:
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
            event = (entry.source["provider"], entry.source["event_id"])
            if event in by_event:
                recorded[entry.id] = by_event[event].id
            else:
                by_event[event] = entry
        pending = list(by_event.values())
        while pending:
            chunk, rest = pending[:EVENTS_PER_TRANSACTION], pending[EVENTS_PER_TRANSACTION:]
            try:
                # A fresh token per attempt: the ids may repeat across deliveries, their content does not.
                self._write_together(org, chunk, shards, retention_days, uuid.uuid4().hex, with_markers=True)
                pending = rest
                continue
            except TransactWriteError as error:
                reasons = error.cancellation_reasons or []
                found = {}
                for index, entry in enumerate(chunk):
                    marker, item = (reasons[2 * index: 2 * index + 2] + [None, None])[:2]
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

    def _write_together(self, org: str, entries: list[Entry], shards: int, retention_days: int, token: str,
                        with_markers: bool = False) -> None:
        """One transaction of conditional puts (retried while DynamoDB is busy); a failure removes its detail objects.
        ``with_markers``: each entry's event marker goes in just before it (a refused one answers the entry id it holds)."""
        items, uploaded = [], []
        for entry in entries:
            item, keys_ = self._to_item(org, entry, shards, retention_days)
            if with_markers:
                pk, sk = keys.event_marker_keys(org, entry.source["provider"], entry.source["event_id"])
                items.append((EventMarker(pk, sk, entry_id=entry.id, expires_at=entry.expires_at), EventMarker.pk.does_not_exist(), "ALL_OLD"))
            items.append((item, None, None))
            uploaded += keys_

        def write() -> None:
            with TransactWrite(connection=EntryItem._get_connection().connection, client_request_token=token) as transaction:
                for item, condition, return_values in items:
                    transaction.save(item, condition=condition, return_values=return_values)

        with self._removed_on_failure(uploaded):
            self._retrying(write)

    def replace(self, org: str, entry: Entry, shards: int, retention_days: int, expected_status: Status,
                key: Optional[tuple[str, int]] = None) -> bool:
        """Save a changed entry if nobody changed it meanwhile; False when they did.

        The version attribute and the expected status make it a compare-and-set: a late
        or duplicate job update can never overwrite a terminal status. A losing attempt
        removes the detail object it uploaded; a winning one removes the one it replaced.

        ``key`` (an update's ``Idempotency-Key`` marker and its expiry): the marker is written in
        the same transaction, only if absent, so the update lands once; raises ``KeyUsed`` when
        the marker is there already (an earlier attempt applied it) and changes nothing.
        """
        previous_ref = entry.detail_ref
        item, uploaded = self._to_item(org, entry, shards, retention_days)
        item.version = entry.version
        condition = EntryItem.status == expected_status.value
        if key is None:
            def write() -> None:
                item.save(condition=condition)
        else:
            marker = KeyItem(key[0], expiration=key[1])

            def write() -> None:
                with TransactWrite(connection=EntryItem._get_connection().connection) as transaction:
                    transaction.save(item, condition=condition)
                    transaction.save(marker, condition=_key_free())
        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except PutError as error:
            if _condition_failed(error):
                return False
            raise
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in error.cancellation_reasons or []]
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                raise KeyUsed(key[0]) from None
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        if previous_ref and previous_ref != item.detail_ref:
            self.detail_store.delete([previous_ref])
        entry.version = item.version
        entry.detail_ref = item.detail_ref
        return True

    # -- what an Idempotency-Key decided (``activitylog.idempotency.WriteKey``) -----------------

    def claim_key(self, marker: str, body_hash: str, now: datetime, expires_at: int) -> datetime:
        """When a keyed write's first attempt began: ``now`` if this is the first (its marker is written now),
        else the time its marker holds. The same key with another body is a ``Conflict``."""
        for _ in range(3):  # a marker past its expiry may be taken over, or vanish (TTL) between the two calls
            item = KeyItem(marker, expiration=expires_at, started=_epoch_ms(now), body=body_hash)
            try:
                self._retrying(lambda: item.save(condition=_key_free()))
                return _from_epoch_ms(item.started)  # to the millisecond, as a later attempt reads it
            except PutError as error:
                if not _condition_failed(error):
                    raise
            try:
                stored = KeyItem.get(marker, consistent_read=True)
            except DoesNotExist:
                continue
            if stored.body != body_hash:
                raise Conflict("this Idempotency-Key was used with a different body", "idempotency-key")
            return _from_epoch_ms(stored.started)
        raise Unavailable("the idempotency records keep changing; nothing was written, retry after a second", "idempotency-key")

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
            if not _condition_failed(error):
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
            except (PutError, TransactWriteError) as error:
                if not _busy(error):
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

    # -- the org's shard history ----------------------------------------------------------

    def record_shards(self, org: str, shards: int) -> None:
        """Remember the highest shard count the org has written with (readers cover all of them)."""
        connection = EntryItem._get_connection().connection
        try:
            connection.update_item(
                EntryItem.Meta.table_name, keys.meta_pk(org), keys.SHARDS_META,
                actions=[EntryItem.shards_written.set(shards)],
                condition=EntryItem.shards_written.does_not_exist() | (EntryItem.shards_written < shards),
            )
        except UpdateError as error:
            if not _condition_failed(error):
                raise

    def take_quota(self, org: str, name: str, limit: int, expires_at: int) -> bool:
        """Count one use of an org's quota ``name`` (a meta item, gone by TTL after ``expires_at``);
        False, and nothing counted, once ``limit`` uses are counted. A conditional update: exact under concurrency.

        >>> store.take_quota("org_1", "webhook-rejections:stripe#29411520", limit=5, expires_at=now + 86400)
        True
        """
        connection = EntryItem._get_connection().connection
        try:
            connection.update_item(
                EntryItem.Meta.table_name, keys.meta_pk(org), keys.quota_sk(name),
                actions=[EntryItem.quota_used.add(1), EntryItem.expires_at.set(expires_at)],
                condition=EntryItem.quota_used.does_not_exist() | (EntryItem.quota_used < limit),
            )
        except UpdateError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def count_over_quota(self, org: str, name: str, due_at: int, expires_at: int) -> None:
        """Count one use of quota ``name`` past its limit (one ADD, exact under concurrency), and make the
        window due (``open_jobs`` index, at ``due_at``) for the summary of what it did not record."""
        connection = EntryItem._get_connection().connection
        partition = keys.open_job_pk(zlib.crc32(f"{org}{keys.SEP}{name}".encode()) % keys.OPEN_JOB_PARTITIONS)
        connection.update_item(
            EntryItem.Meta.table_name, keys.meta_pk(org), keys.quota_sk(name),
            actions=[EntryItem.quota_over.add(1), EntryItem.expires_at.set(expires_at),
                     EntryItem.opk.set(EntryItem.opk | partition), EntryItem.odl.set(EntryItem.odl | due_at)],
        )

    def quota_window(self, org: str, name: str) -> Optional[tuple[int, int, Optional[int]]]:
        """``(uses counted, uses past the limit, when its summary is due)`` of quota window ``name``, read consistently."""
        try:
            item = EntryItem.get(keys.meta_pk(org), keys.quota_sk(name), consistent_read=True,
                                 attributes_to_get=["qn", "qo", "odl"])
        except DoesNotExist:
            return None
        return int(item.quota_used or 0), int(item.quota_over or 0), int(item.odl) if item.odl else None

    def close_quota(self, org: str, name: str, summary: Optional[Entry], shards: int, retention_days: int) -> bool:
        """Write a quota window's ``summary`` entry and take the window out of the due ones, both or neither;
        False when it was closed already (the summary's id is derived: a second sweep finds it and writes nothing)."""
        connection = EntryItem._get_connection().connection
        done = [EntryItem.opk.remove(), EntryItem.odl.remove()]
        if summary is None:
            connection.update_item(EntryItem.Meta.table_name, keys.meta_pk(org), keys.quota_sk(name), actions=done)
            return False
        item, uploaded = self._to_item(org, summary, shards, retention_days)
        window = EntryItem(keys.meta_pk(org), keys.quota_sk(name))

        def write() -> None:
            with TransactWrite(connection=connection, client_request_token=uuid.uuid4().hex) as transaction:
                transaction.save(item)  # conditional on its absence (the version attribute)
                transaction.update(window, actions=done, condition=EntryItem.odl.exists(), add_version_condition=False)

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except TransactWriteError as error:
            if not any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons or []):
                raise
            connection.update_item(EntryItem.Meta.table_name, keys.meta_pk(org), keys.quota_sk(name), actions=done)
            return False
        return True

    def shards_written(self, org: str) -> int:
        """The highest shard count the org ever wrote with; 0 if none was recorded."""
        return self.org_meta(org)[0]

    def org_meta(self, org: str, consistent: bool = False) -> tuple[int, Optional[RetentionPolicy]]:
        """The org's meta items in one read: its highest shard count (0 if none) and its own retention policy."""
        shards, policy = 0, None
        # BatchGetItem of the two keys (not a Query): every role that reads entries by id may read these too.
        client, table = EntryItem._get_connection().connection.client, EntryItem.Meta.table_name
        wanted = {table: {"Keys": [{"pk": {"S": keys.meta_pk(org)}, "sk": {"S": name}} for name in keys.META_ITEMS],
                          "ConsistentRead": consistent}}
        found: list[dict] = []
        for attempt in range(WRITE_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=wanted)
            found += answer.get("Responses", {}).get(table, [])
            wanted = answer.get("UnprocessedKeys") or {}
            if not wanted:
                break
            backoff(attempt)
        for raw in found:
            if raw["sk"]["S"] == keys.SHARDS_META:
                shards = int(raw.get("shw", {}).get("N", 0))
            elif raw["sk"]["S"] == keys.RETENTION_META:
                policy = _to_policy(PolicyItem.from_raw_data(raw))
        return shards, policy

    # -- the org's retention policy -------------------------------------------------------

    def change_retention(self, org: str, policy: RetentionPolicy, entry: Entry, shards: int) -> RetentionPolicy:
        """Write a new policy and the entry that records the change, both or neither.

        The policy is written only over the version it was made from (``policy.version``):
        a change made meanwhile by someone else is a ``Conflict``, and nothing is written.
        """
        item = PolicyItem(
            keys.meta_pk(org), keys.RETENTION_META,
            hot_days=policy.hot_days, archive_days=policy.archive_days, updated_at=_epoch_ms(policy.updated_at),
            updated_by=policy.updated_by, restamp_state=policy.restamp.state,
            restamp_phases=",".join(policy.restamp.phases) or None, restamp_entries=0, restamp_objects=0,
        )
        if policy.version:
            item.version = policy.version  # the version attribute makes the write conditional on it (absent: on none)
        entry_item, uploaded = self._to_item(org, entry, shards, policy.hot_days)
        token = hashlib.sha256(f"retention {org} {entry.id}".encode()).hexdigest()[:36]

        def write() -> None:
            with TransactWrite(connection=EntryItem._get_connection().connection, client_request_token=token) as transaction:
                transaction.save(item)
                transaction.save(entry_item)

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except TransactWriteError as error:
            if any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons):
                raise Conflict("the retention policy was changed meanwhile; read it again", "retention") from None
            raise
        return _to_policy(item)

    def restamp_progress(self, org: str, version: int, restamp: Restamp) -> bool:
        """Record how far a change has been applied; False when a newer change has replaced it."""
        connection = PolicyItem._get_connection().connection
        actions = [PolicyItem.restamp_state.set(restamp.state), PolicyItem.restamp_entries.set(restamp.entries),
                   PolicyItem.restamp_objects.set(restamp.archive_objects)]
        actions.append(PolicyItem.restamp_cursor.set(restamp.cursor) if restamp.cursor else PolicyItem.restamp_cursor.remove())
        try:
            connection.update_item(PolicyItem.Meta.table_name, keys.meta_pk(org), keys.RETENTION_META,
                                   actions=actions, condition=PolicyItem.version == version)
        except UpdateError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def expiries(self, org: str, shard: int, after_id: Optional[str], limit: int
                 ) -> tuple[list[tuple[str, int, Optional[str]]], Optional[str]]:
        """One page of a shard's entries, oldest first, after ``after_id``: (id, expires_at, the key of its
        offloaded detail or None) each, and the last id read when more may follow."""
        condition = EntryItem.sk > after_id if after_id else None
        answer = EntryItem._get_connection().query(
            keys.table_pk(org, shard), range_key_condition=condition, limit=limit, attributes_to_get=["sk", "exp", "bref"],
        )
        found = [(raw["sk"]["S"], int(raw["exp"]["N"]), raw.get("bref", {}).get("S")) for raw in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return found, (last["sk"]["S"] if last else None)

    def set_expiry(self, org: str, shard: int, entry_id: str, expires_at: int) -> bool:
        """Give an existing entry another expiry; False if it is gone or has that expiry already.

        The version moves too, so a job update decided on the entry as it was read before
        loses its compare-and-set and decides again, instead of writing the old expiry back.
        """
        connection = EntryItem._get_connection().connection
        try:
            connection.update_item(
                EntryItem.Meta.table_name, keys.table_pk(org, shard), entry_id,
                actions=[EntryItem.expires_at.set(expires_at), EntryItem.version.add(1)],
                condition=EntryItem.pk.exists() & (EntryItem.expires_at != expires_at),
            )
        except UpdateError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    # -- reads --------------------------------------------------------------------------

    def get(self, org: str, entry_id: str, shards: int, consistent: bool = False) -> Optional[Entry]:
        """The whole entry, or None.

        Tries the id's shard under today's count first; an entry written under another
        count (the org's shards changed) is in one of the others, all read in one round.
        """
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
        return [(org, sk[len(keys.quota_sk("")):]) for org, _, sk in self._due(now, limit, quotas=True)]

    def _due(self, now: datetime, limit: int, quotas: bool) -> list[tuple[str, str, str]]:
        """``(org, the last part of pk, sk)`` of the ``open_jobs`` items due by ``now``: jobs, or quota windows."""
        connection = EntryItem._get_connection()
        due: list[tuple[str, str, str]] = []
        for partition in range(keys.OPEN_JOB_PARTITIONS):
            start = None
            while len(due) < limit:
                answer = connection.query(keys.open_job_pk(partition), range_key_condition=EntryItem.odl <= int(now.timestamp()),
                                          index_name=keys.OPEN_JOBS, limit=limit - len(due), exclusive_start_key=start)
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

    def fetch(self, branch: Branch, low_id: str, high_id: str, limit: int,
              plan: Optional[Plan] = None, detail: bool = False) -> Fetched[Entry]:
        """One Query of one branch, newest first, ids within [low_id, high_id], minus the plan's residual.

        The entries hold the list columns only (indexes project nothing else), and their
        detail too when ``detail`` is asked of a table branch (its items hold it); an index
        branch's entries get theirs from ``read_details``.

        >>> store.fetch(plan.branches[0], low_id, high_id, limit=10, plan=plan).items[0].list_view()
        """
        low, high = branch.range_bounds(low_id, high_id)
        sort_key = EntryItem.sk if branch.index is None else EntryItem.ssk
        answer = EntryItem._get_connection().query(
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
            item = _WireItem(raw)
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
            chunk = {entry.id: entry for entry in entries[start:start + 100]}
            wanted = [(keys.table_pk(org, entry.shard), entry.id) for entry in chunk.values()]
            found = EntryItem.batch_get(wanted, attributes_to_get=["pk", "sk", "bd", "bref", "ra", "fa"])
            self._fill_details([(chunk[item.sk], item) for item in found])

    # -- stream images -------------------------------------------------------------------

    def entry_from_image(self, image: dict) -> Optional[tuple[str, Entry]]:
        """(org, the whole entry) from a stream record's image, or None when the item is not an entry.

        Images come as Lambda delivers them (binary values in base64). An offloaded detail
        replaced since (its object deleted) is read from the version the bucket still keeps.

        >>> store.entry_from_image(record["dynamodb"]["NewImage"])
        ('org_1', Entry(id='01JD…', ...))
        """
        if image.get("sk", {}).get("S") in keys.META_ITEMS or "ty" not in image:
            return None
        item = EntryItem.from_raw_data({name: _from_base64(value) for name, value in image.items()})
        entry = self._to_entry(item, detail=True, any_version=True)
        entry.shard = keys.shard_number(item.pk)
        return keys.org_of(item.pk), entry

    # -- item <-> entry -----------------------------------------------------------------

    def _to_item(self, org: str, entry: Entry, shards: int, retention_days: int) -> tuple["EntryItem", list[str]]:
        """The entry's item, and the detail object uploaded for it (if its detail is large)."""
        entity = entry.entity or {}
        item = EntryItem(
            **keys.item_keys(
                org, entry.id, shards, entry.type, entry.status, ActorKind(entry.actor["kind"]),
                entry.actor["id"], entity.get("type"), entity.get("id"), shard=entry.shard,
                correlation_id=entry.correlation_id, stalls_at=entry.stalls_at,
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
            recorded_at=_epoch_ms(entry.recorded_at),
            finished_at=_epoch_ms(entry.finished_at),
        )
        blob = details.pack({name: getattr(entry, name) for name in DETAIL_FIELDS})
        if len(blob) <= details.OFFLOAD_BYTES:
            item.detail = blob
            return item, []
        key = details.detail_key(org, entry.id, retention_days)
        self.detail_store.put(key, blob, retention_days)
        item.detail_ref = key
        return item, [key]

    def _to_entry(self, item: EntryItem, detail: bool = False, any_version: bool = False) -> Entry:
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

    def _fill_detail(self, entry: Entry, item: EntryItem, any_version: bool = False,
                     offloaded: Optional[dict[str, Optional[bytes]]] = None) -> None:
        if item.detail_ref:
            blob = offloaded[item.detail_ref] if offloaded is not None else self.detail_store.get(item.detail_ref, any_version)
        else:
            blob = item.detail
        if blob is None:
            entry.detail_missing = True
        for name, value in details.unpack(blob).items():
            setattr(entry, name, value)
        entry.recorded_at = _from_epoch_ms(item.recorded_at)
        entry.finished_at = _from_epoch_ms(item.finished_at)
        entry.stalls_at = datetime.fromtimestamp(item.odl, timezone.utc) if item.odl else None
        entry.detail_ref = item.detail_ref


def _to_policy(item: PolicyItem) -> RetentionPolicy:
    return RetentionPolicy(
        hot_days=int(item.hot_days), archive_days=int(item.archive_days), version=int(item.version or 0),
        updated_at=_from_epoch_ms(item.updated_at), updated_by=item.updated_by,
        restamp=Restamp(state=item.restamp_state, phases=tuple(filter(None, (item.restamp_phases or "").split(","))),
                        cursor=item.restamp_cursor, entries=int(item.restamp_entries or 0),
                        archive_objects=int(item.restamp_objects or 0)),
    )


def _epoch_ms(moment: Optional[datetime]) -> Optional[int]:
    return int(moment.timestamp() * 1000) if moment else None


def _from_epoch_ms(value: Optional[float]) -> Optional[datetime]:
    return datetime.fromtimestamp(value / 1000, timezone.utc) if value else None


def _from_base64(value: dict) -> dict:
    """A stream image's attribute value with its binary values as bytes, as pynamodb reads them."""
    import base64

    if "B" in value:
        return {"B": base64.b64decode(value["B"])}
    if "BS" in value:
        return {"BS": [base64.b64decode(part) for part in value["BS"]]}
    return value


class KeyUsed(Exception):
    """An update's Idempotency-Key marker exists: an earlier attempt applied it (``EntryStore.replace``)."""


def _key_free():
    """A key marker may be written where there is none, or where one has expired (TTL deletes lag by days)."""
    return KeyItem.id.does_not_exist() | (KeyItem.expiration < int(time.time()))


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` means DynamoDB did not serve the request after the clients' retries: throttling, a 5xx,
    a refused, dropped or timed-out connection. The request may be sent again (a 503 with Retry-After); a
    validation error, a missing table or a bug is not that.

    Follows the chain of causes (pynamodb's ``cause``, Powertools' wrapped errors).
    """
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ConnectionError, HTTPClientError)):  # refused, reset, connect and read timeouts
            return True
        if isinstance(error, ClientError):
            answer = error.response
            if answer.get("Error", {}).get("Code") in RETRYABLE or answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                return True
        if _busy(error):
            return True
        error = getattr(error, "cause", None) or error.__cause__
    return False


def _busy(error: Exception) -> bool:
    if getattr(error, "cause_response_code", None) in RETRYABLE:
        return True
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(reason and reason.code in RETRYABLE for reason in reasons)


def _residual_condition(plan: Plan):
    """What no key covers, as a FilterExpression (reads are still counted by the merge)."""
    conditions = []
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


def _condition_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
