"""The pynamodb models: what is on disk (the table's items and the idempotency table's key markers).

The table and its indexes are created from template.yaml; these models only name the
attributes (short names keep index items, which repeat the list columns, inside one
write unit). Key values come from ``keys``.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from pynamodb.attributes import BinaryAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from activitylog import keys
from activitylog.config import ATTEMPTS, CONNECT_TIMEOUT, READ_TIMEOUT

# The projected list columns (their DynamoDB names). template.yaml declares the indexes;
# pynamodb needs them here too to plan queries, and a test keeps the two identical.
LIST_COLUMNS = ["ty", "st", "ak", "ai", "an", "ac", "ev", "et", "ei", "el", "exp", "rr"]


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
    rr     retried                                qo     quota_over (meta item)
    =====  ============  =====  ================  =====  ==========================

    ``bd``/``bref`` keep the detail's old name (body) on disk, so stored items read as they are.

    The key attributes (``pk``, ``sk``, ``ssk``, ``tpk``, ``upk``, ``epk``, ``rpk``, ``cpk``,
    ``trpk``, ``opk``, ``odl``) are explained in ``activitylog.keys``.
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
    trpk = UnicodeAttribute(null=True)  # {org}#{trace_id}
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
    # A retried entry's latest retry run, "{run id}#{0 running, 1 finished}#{status}#{finished, epoch ms}": compared
    # as a string, a newer run (ULIDs sort by time) or the same run finished is greater (``codec.retried_value``).
    retried = UnicodeAttribute(attr_name="rr", null=True)
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
    by_trace = _index(keys.BY_TRACE, "trpk")()
    open_jobs = _OpenJobs()

    @property
    def id(self) -> str:
        return self.sk


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


class StreamItem(Model):
    """A stream's settings (a meta item, ``activitylog.store.streams``): one JSON document and a version, so a change is a compare-and-set."""

    class Meta:
        table_name = "activity-log"  # set by ``bind``

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    doc = UnicodeAttribute()
    version = VersionAttribute(attr_name="ver")


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


class BulkRetryItem(Model):
    """A bulk retry's progress (``bulk#{org}#{id}``) and each original's claim on it (``bulk#{org}#{id}#{original}``),
    in the idempotency table beside the key markers (``activitylog.jobs.bulk``): counted exactly by conditional
    transactions, gone by TTL after the idempotency window.
    """

    class Meta:
        table_name = "idempotency"  # set by ``bind``

    id = UnicodeAttribute(hash_key=True)
    expiration = NumberAttribute()  # epoch s: the table's TTL attribute
    status = UnicodeAttribute(null=True)  # the progress item's: RUNNING, CANCELLED, DONE, FAILED
    matched = NumberAttribute(null=True)
    started = NumberAttribute(null=True)
    failed = NumberAttribute(null=True)
    skipped: MapAttribute = MapAttribute(null=True)  # reason -> count
    outcome = UnicodeAttribute(null=True)  # a claim's: started, skipped or failed
    reason = UnicodeAttribute(null=True)  # a claim's: why it was skipped or failed
    run_id = UnicodeAttribute(null=True)  # a claim's: the run it started (or shares)


def bind(table_name: str, region: Optional[str] = None, keys_table: Optional[str] = None) -> None:
    """Point the models at a table (the endpoint comes from AWS_ENDPOINT_URL_DYNAMODB, the region from the
    settings), and ``KeyItem`` at the idempotency table."""
    models: tuple[type[Model], ...] = (EntryItem, PolicyItem, EventMarker, StreamItem, KeyItem, BulkRetryItem)
    for model in models:
        if model in (KeyItem, BulkRetryItem):
            if not keys_table:
                continue
            model.Meta.table_name = keys_table
        else:
            model.Meta.table_name = table_name
        model.Meta.region = region  # None: botocore's own (AWS_DEFAULT_REGION, which Lambda sets beside AWS_REGION)
        # pynamodb's "LEGACY" retries: botocore's standard mode with 1 + max_retry_attempts attempts in all
        # pynamodb annotates these int; botocore's Config, which gets them, takes seconds as a float
        model.Meta.connect_timeout_seconds = CONNECT_TIMEOUT  # type: ignore[assignment]
        model.Meta.read_timeout_seconds = READ_TIMEOUT  # type: ignore[assignment]
        model.Meta.max_retry_attempts = ATTEMPTS - 1
        model._connection = None
    # Build the botocore client here, on one thread: pynamodb creates it lazily without a
    # lock, so the merge's parallel first reads would each build their own (~70 ms apiece).
    table_connection().connection.client  # noqa: B018 - reading it builds it


def table_connection(model: type[Model] = EntryItem) -> Any:
    """A table's low-level connection (pynamodb's ``TableConnection``; its ``.connection.client`` is botocore's),
    the activity table's unless another model's is asked (``KeyItem``: the idempotency table): the one place
    that reaches it. Raw Queries, UpdateItems and transactions go through the models' own connection, so
    they share the models' client (its timeouts, retries and event hooks).

    pynamodb offers no public accessor of a model's connection: this is its one private call.
    """
    return model._get_connection()


def meta_items(org: str, prefix: str, projection: str) -> Iterator[dict]:
    """The org's meta items whose sort key starts with ``prefix`` (raw, ``projection``'s attributes), every page of
    one Query: what the members directory and the catalogue read."""
    query = {
        "TableName": EntryItem.Meta.table_name,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": keys.meta_pk(org)}, ":prefix": {"S": prefix}},
        "ProjectionExpression": projection,
    }
    client = table_connection().connection.client
    while True:
        answer = client.query(**query)
        yield from answer.get("Items", [])
        if not answer.get("LastEvaluatedKey"):
            return
        query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
