"""The bench's only reach into the layer's internals: a rename in the layer breaks this file alone.

The seed writes 200,000 entries with BatchWriteItem, so it builds each entry the way
``ActivityService.record`` does (``rules.new_entry``) and each item the way
``EntryStore.put`` does, without their one-by-one writes; the write and cost measurements hook the store's own client.
"""

from __future__ import annotations

import json
from collections import Counter
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


class Capacity:
    """Consumed capacity of the store's client, per operation, over ``operations``; a request whose parameters name
    ``marker`` (a key prefix: ``catalog#``, ``actor#``) is counted as ``label``'s, any other as the entries'."""

    def __init__(self, marker: str, label: str, operations: tuple[str, ...]) -> None:
        self.marker, self.label, self.operations = marker, label, operations
        self.units: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._client = store_client()
        self._pending: list[bool] = []

    def _ask(self, params: dict, **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"
        self._pending.append(self.marker in json.dumps(params, default=str))

    def _answer(self, parsed: dict, model: Any, **_: Any) -> None:
        marked = self._pending.pop(0) if self._pending else False
        consumed = parsed.get("ConsumedCapacity") or []
        units = sum(c.get("CapacityUnits", 0.0) for c in (consumed if isinstance(consumed, list) else [consumed]))
        what = f"{self.label if marked else 'entries'} {model.name}"
        self.units[what] += units
        self.requests[what] += 1

    def __enter__(self) -> "Capacity":
        for operation in self.operations:
            self._client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self._client.meta.events.register(f"after-call.dynamodb.{operation}", self._answer)
        return self

    def __exit__(self, *_: Any) -> None:
        for operation in self.operations:
            self._client.meta.events.unregister(f"before-parameter-build.dynamodb.{operation}", self._ask)
            self._client.meta.events.unregister(f"after-call.dynamodb.{operation}", self._answer)
