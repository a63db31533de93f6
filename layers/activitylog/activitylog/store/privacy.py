"""An org's privacy items in the table (``activitylog.privacy``): its masked field patterns and its fingerprint key.

==========================  ===============================  =====================================================
item                        pk / sk                          holds
==========================  ===============================  =====================================================
the masked field patterns   ``{org}#meta`` / ``privacy``      ``doc`` (JSON: patterns, updated_at, updated_by) and
                                                             ``ver`` (each change)
the fingerprint key         ``{org}#meta`` / ``maskkey``      ``key``: the org's key as KMS ciphertext under the
                                                             service key, written once (never the key itself)
==========================  ===============================  =====================================================

Neither has ``ty``: no index, the archive or the fan-out takes them. The patterns are read with the org's other
meta items (``OrgMeta.org_meta``), and a change is written with its SYSTEM_EVENT entry in one transaction.
Part of ``EntryStore``.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Optional

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from activitylog import keys
from activitylog.entry import Entry
from activitylog.errors import Conflict
from activitylog.storage import OrgStorage
from activitylog.store.models import EntryItem, StreamItem, table_connection


class PrivacyStore:
    """The privacy items' reads and writes (mixed into ``EntryStore``, whose ``_to_item`` and ``_retrying`` they use)."""

    if TYPE_CHECKING:  # EntryStore's, for the type checker

        def _to_item(self, where: OrgStorage, entry: Entry, sealed: bool = False) -> tuple[EntryItem, list[str]]: ...
        def _removed_on_failure(self, uploaded: list[str]) -> AbstractContextManager[None]: ...
        def _retrying(self, write: Callable[[], Any]) -> Any: ...
        def _prepared(self, where: OrgStorage, entries: list[Entry]) -> list[Entry]: ...

    def save_privacy(self, where: OrgStorage, settings: dict, version: Optional[int], entry: Entry) -> dict:
        """Write the org's privacy settings and the entry recording the change, both or neither: only over
        ``version`` (None: there were none), else a ``Conflict`` and nothing is written."""
        org = where.org
        item = StreamItem(keys.meta_pk(org), keys.PRIVACY_META, doc=json.dumps(settings, sort_keys=True))
        if version:
            item.version = version
        entry = self._prepared(where, [entry])[0]
        entry_item, uploaded = self._to_item(where, entry, sealed=True)
        token = hashlib.sha256(f"privacy {org} {entry.id}".encode()).hexdigest()[:36]

        def write() -> None:
            with TransactWrite(connection=table_connection().connection, client_request_token=token) as transaction:
                transaction.save(item)
                transaction.save(entry_item)

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except TransactWriteError as error:
            if any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons or []):
                raise Conflict("the privacy settings were changed meanwhile; read them again", "patterns") from None
            raise
        return {**settings, "version": item.version}

    def mask_key(self, org: str) -> Optional[bytes]:
        """The org's wrapped fingerprint key, or None before its first masked value (a consistent BatchGetItem:
        the roles that read the org's meta items may read this one)."""
        client, table = table_connection().connection.client, EntryItem.Meta.table_name
        key = {"pk": {"S": keys.meta_pk(org)}, "sk": {"S": keys.MASK_KEY_META}}
        answer = client.batch_get_item(RequestItems={table: {"Keys": [key], "ConsistentRead": True}})
        if answer.get("UnprocessedKeys"):
            answer = client.batch_get_item(RequestItems=answer["UnprocessedKeys"])
        for raw in answer.get("Responses", {}).get(table, []):
            return raw["key"]["B"]
        return None

    def put_mask_key(self, org: str, blob: bytes) -> bool:
        """Keep the org's wrapped key unless one is there already (False: another writer's came first)."""
        client = table_connection().connection.client
        try:
            client.put_item(
                TableName=EntryItem.Meta.table_name,
                Item={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": keys.MASK_KEY_META}, "key": {"B": blob}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def privacy_of(raw: dict) -> dict:
    """The settings document of a raw ``privacy`` meta item, with its version."""
    return {**json.loads(raw["doc"]["S"]), "version": int(raw["ver"]["N"])}
