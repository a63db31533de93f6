"""The bench's only reach into the layer's internals: a rename in the layer breaks this file alone.

The seed writes 200,000 entries with BatchWriteItem, so it builds each entry the way
``ActivityService.record`` does (``rules.new_entry``) and each item the way
``EntryStore.put`` does, without their one-by-one writes; the write and cost measurements hook the store's own client.
"""

from __future__ import annotations

from typing import Any

from activitylog import rules
from activitylog.entry import Entry
from activitylog.inputs import NewEntry
from activitylog.service import ActivityService
from activitylog.store import EntryItem, EntryStore, table_connection


def new_entry(service: ActivityService, org: str, writer: str, document: dict) -> Entry:
    """An entry exactly as ``ActivityService.record`` builds it (id, diff, expiry), unwritten."""
    return rules.new_entry(NewEntry.model_validate(document), writer, service.clock(), service.retention(org).hot_days)


def stored_item(store: EntryStore, org: str, entry: Entry, shards: int, retention_days: int) -> dict:
    """The exact Item ``EntryStore.put`` sends in its PutItem (``Model.save``'s own arguments)."""
    from activitylog.config import DEFAULT_ARCHIVE_DAYS
    from activitylog.storage import OrgStorage

    model, _ = store._to_item(OrgStorage(org, shards, shards, retention_days, DEFAULT_ARCHIVE_DAYS), entry)
    args, kwargs = model._get_save_args()
    item = dict(kwargs["attributes"])
    item[EntryItem._hash_key_attribute().attr_name] = {"S": args[0]}
    item[EntryItem._range_key_attribute().attr_name] = {"S": kwargs["range_key"]}
    return item


def connection() -> Any:
    """pynamodb's table connection the store queries through (the naive baseline uses it too)."""
    return table_connection()


def store_client() -> Any:
    """The botocore client under the store, to hook ReturnConsumedCapacity onto its own calls."""
    return table_connection().connection.client
