"""All data access: the pynamodb model of an entry's item, and every read and write.

The table and its indexes are created from template.yaml; this module only names the
attributes (short names keep index items, which repeat the list columns, inside one
write unit). Key values come from ``keys``.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Optional

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from activitylog import bodies, keys
from activitylog.entry import ActorKind, Entry, EntryType, Status
from activitylog.errors import Conflict
from activitylog.merge import Fetched

# The detail blob's fields; everything else is a list column or a key.
DETAIL_FIELDS = ("changes", "metadata", "error", "correlation_id", "retry_of", "source", "recorded_by")


# The projected list columns (their DynamoDB names). template.yaml declares the indexes;
# pynamodb needs them here too to plan queries, and a test keeps the two identical.
LIST_COLUMNS = ["ty", "st", "ak", "ai", "an", "ac", "ev", "et", "ei", "el", "exp"]


def _index(name: str, hash_attr: str) -> type:
    meta = type("Meta", (), {"index_name": name, "projection": IncludeProjection(LIST_COLUMNS)})
    attrs = {"Meta": meta, hash_attr: UnicodeAttribute(hash_key=True), "ssk": UnicodeAttribute(range_key=True)}
    return type(f"{name}_index", (GlobalSecondaryIndex,), attrs)


class EntryItem(Model):
    """One entry's item. ``sk`` is the entry id; ``occurred_at`` is the id's time part."""

    class Meta:
        table_name = "activity-log"  # set by ``bind`` from the environment

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ssk = UnicodeAttribute()  # {status}#{id}: every index's sort key
    tpk = UnicodeAttribute()
    upk = UnicodeAttribute(null=True)
    epk = UnicodeAttribute(null=True)
    rpk = UnicodeAttribute(null=True)
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
    body = BinaryAttribute(attr_name="bd", null=True, legacy_encoding=False)
    body_ref = UnicodeAttribute(attr_name="bref", null=True)
    version = VersionAttribute(attr_name="ver")

    by_type = _index(keys.BY_TYPE, "tpk")()
    by_user = _index(keys.BY_USER, "upk")()
    by_entity = _index(keys.BY_ENTITY, "epk")()
    by_record = _index(keys.BY_RECORD, "rpk")()

    @property
    def id(self) -> str:
        return self.sk


def bind(table_name: str, region: Optional[str] = None) -> None:
    """Point the model at a table (the endpoint comes from AWS_ENDPOINT_URL_DYNAMODB)."""
    import os

    EntryItem.Meta.table_name = table_name
    EntryItem.Meta.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    EntryItem._connection = None
    # Build the botocore client here, on one thread: pynamodb creates it lazily without a
    # lock, so the merge's parallel first reads would each build their own (~70 ms apiece).
    EntryItem._get_connection().connection.client


class EntryStore:
    """Reads and writes entries of any org; callers pass the org from verified claims only."""

    def __init__(self, body_store: bodies.BodyStore) -> None:
        self.body_store = body_store

    # -- writes -------------------------------------------------------------------------

    def put(self, org: str, entry: Entry, shards: int) -> None:
        """Write a new entry; an id that exists already is refused, never overwritten."""
        item = self._to_item(org, entry, shards)
        try:
            item.save()  # the version attribute makes this conditional on absence
        except PutError as error:
            if _condition_failed(error):
                raise Conflict(f"entry {entry.id} exists already", "id") from None
            raise

    def put_all(self, org: str, entries: list[Entry], shards: int) -> None:
        """Write entries all-or-nothing (one transaction, up to 100)."""
        items = [self._to_item(org, entry, shards) for entry in entries]
        connection = Connection(region=EntryItem.Meta.region)
        try:
            with TransactWrite(connection=connection) as transaction:
                for item in items:
                    transaction.save(item)
        except TransactWriteError as error:
            if "ConditionalCheckFailed" in str(error.cause_response_message or error):
                raise Conflict("an entry of the batch exists already", "entries") from None
            raise

    def replace(self, org: str, entry: Entry, shards: int, expected_status: Status) -> bool:
        """Save a changed entry if nobody changed it meanwhile; False when they did.

        The version attribute and the expected status make it a compare-and-set: a late
        or duplicate job update can never overwrite a terminal status.
        """
        item = self._to_item(org, entry, shards, body_version=entry.version + 1)
        item.version = entry.version
        try:
            item.save(condition=EntryItem.status == expected_status.value)
        except PutError as error:
            if _condition_failed(error):
                return False
            raise
        entry.version = item.version
        return True

    # -- reads --------------------------------------------------------------------------

    def get(self, org: str, entry_id: str, shards: int) -> Optional[Entry]:
        """The whole entry, or None. Tries the id's shard first, then the others (a changed shard count)."""
        first = keys.shard_of(entry_id, shards)
        for shard in [first, *(s for s in range(shards) if s != first)]:
            try:
                item = EntryItem.get(keys.table_pk(org, shard), entry_id)
            except DoesNotExist:
                continue
            if item.expires_at < time.time():
                return None
            entry = self._to_entry(item, detail=True)
            entry.shard = shard  # a later save goes back to this very item
            return entry
        return None

    def fetch(self, branch: keys.Branch, low_id: str, high_id: str, start_key: Optional[dict], limit: int,
              plan: Optional[keys.Plan] = None) -> Fetched:
        """One Query of one branch, newest first, ids within [low_id, high_id], minus the plan's residual."""
        low, high = branch.range_bounds(low_id, high_id)
        sort_key = EntryItem.sk if branch.index is None else EntryItem.ssk
        answer = EntryItem._get_connection().query(
            branch.hash_key,
            range_key_condition=sort_key.between(low, high),
            filter_condition=_residual_condition(plan) if plan and plan.has_residual else None,
            index_name=branch.index,
            exclusive_start_key=start_key,
            limit=limit,
            scan_index_forward=False,
            return_consumed_capacity="TOTAL",
        )
        items = [EntryItem.from_raw_data(raw) for raw in answer.get("Items", [])]
        return Fetched(
            items=items,
            next_key=answer.get("LastEvaluatedKey"),
            scanned=answer.get("ScannedCount", len(items)),
            capacity=float(answer.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)),
        )

    # -- item <-> entry -----------------------------------------------------------------

    def _to_item(self, org: str, entry: Entry, shards: int, body_version: int = 1) -> EntryItem:
        entity = entry.entity or {}
        item = EntryItem(
            **keys.item_keys(
                org, entry.id, shards, entry.type, entry.status, ActorKind(entry.actor["kind"]),
                entry.actor["id"], entity.get("type"), entity.get("id"), shard=entry.shard,
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
            recorded_at=int(entry.recorded_at.timestamp() * 1000) if entry.recorded_at else None,
        )
        blob = bodies.pack({name: getattr(entry, name) for name in DETAIL_FIELDS})
        if len(blob) > bodies.OFFLOAD_BYTES:
            # A new key per version: a reader holding the old item still finds its body.
            key = bodies.body_key(org, entry.id, body_version)
            self.body_store.put(key, blob)
            item.body_ref = key
        else:
            item.body = blob
        return item

    def _to_entry(self, item: EntryItem, detail: bool = False) -> Entry:
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
            blob = self.body_store.get(item.body_ref) if item.body_ref else item.body
            for name, value in bodies.unpack(blob).items():
                setattr(entry, name, value)
            entry.recorded_at = datetime.fromtimestamp(item.recorded_at / 1000, timezone.utc) if item.recorded_at else None
            entry.version = item.version
        return entry

    def list_view(self, item: EntryItem) -> dict:
        return self._to_entry(item).list_view()


def _residual_condition(plan: keys.Plan):
    """What no key covers, as a FilterExpression (reads are still counted by the merge)."""
    conditions = []
    if plan.residual_types:
        conditions.append(EntryItem.type.is_in(*sorted(t.value for t in plan.residual_types)))
    if plan.residual_user:
        conditions.append((EntryItem.actor_kind == ActorKind.USER.value) & (EntryItem.actor_id == plan.residual_user))
    if plan.residual_entity_type:
        conditions.append(EntryItem.entity_type == plan.residual_entity_type)
    condition = None
    for part in conditions:
        condition = part if condition is None else condition & part
    return condition


def _condition_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
