"""An org's streams in the table: their settings, their delivery state, and the entries waiting for each.

==========================  ===============================  =====================================================
item                        pk / sk                          holds
==========================  ===============================  =====================================================
a stream's settings         ``{org}#meta`` / ``stream#{id}``  ``doc`` (JSON: name, destination, filter, format,
                                                             status, ...) and ``ver`` (each change)
its delivery state          ``{org}#meta`` /                 ``ld`` last delivery, ``le`` last error (JSON),
                            ``streamstate#{id}``             ``fs`` failing since (epoch ms), ``bf`` backfill (JSON)
an entry waiting for it     ``{org}#stream#{id}`` / entry id  ``doc`` (the entry document, zlib'd JSON; none when
                                                             over ``WAITING_DOC_BYTES``: read from the entry when sent),
                                                             ``exp`` (TTL)
==========================  ===============================  =====================================================

None of them has ``ty``: no index, the archive or the streams' own fan-out takes them. Waiting items sort by entry
id, so a Query reads them in the order they are delivered. A stream's secret is never here (``streams.secrets``).
Part of ``EntryStore``: a settings change is written with its SYSTEM_EVENT entry in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Optional

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from activitylog import keys
from activitylog.entry import Entry
from activitylog.errors import Conflict
from activitylog.storage import OrgStorage
from activitylog.store.models import EntryItem, StreamItem, table_connection
from activitylog.store.retries import WRITE_ATTEMPTS, backoff

STREAM_PREFIX = f"stream{keys.SEP}"
STATE_PREFIX = f"streamstate{keys.SEP}"
WAITING_PAGE = 500  # waiting entries one delivery reads at most
WAITING_DOC_BYTES = 300 * 1024  # a compressed document past this (an entry takes 1 MB) is not copied: its id is


def stream_sk(stream_id: str) -> str:
    return STREAM_PREFIX + stream_id


def state_sk(stream_id: str) -> str:
    return STATE_PREFIX + stream_id


def waiting_pk(org: str, stream_id: str) -> str:
    return f"{org}{keys.SEP}stream{keys.SEP}{stream_id}"


class StreamStore:
    """The streams' reads and writes (mixed into ``EntryStore``, whose ``_to_item`` and ``_retrying`` they use)."""

    if TYPE_CHECKING:  # EntryStore's, for the type checker

        def _to_item(self, where: OrgStorage, entry: Entry, sealed: bool = False) -> tuple[EntryItem, list[str]]: ...
        def _removed_on_failure(self, uploaded: list[str]) -> AbstractContextManager[None]: ...
        def _retrying(self, write: Callable[[], Any]) -> Any: ...
        def _prepared(self, where: OrgStorage, entries: list[Entry]) -> list[Entry]: ...

    # -- settings ---------------------------------------------------------------------------

    def streams(self, org: str) -> list[dict]:
        """Every stream of ``org`` (settings documents, each with its ``version``), by id."""
        found = []
        query = {
            "TableName": EntryItem.Meta.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": keys.meta_pk(org)}, ":prefix": {"S": STREAM_PREFIX}},
            "ConsistentRead": True,
        }
        client = table_connection().connection.client
        while True:
            answer = client.query(**query)
            for raw in answer.get("Items", []):
                found.append({**json.loads(raw["doc"]["S"]), "version": int(raw["ver"]["N"])})
            if not answer.get("LastEvaluatedKey"):
                return found
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def stream(self, org: str, stream_id: str) -> Optional[dict]:
        try:
            item = StreamItem.get(keys.meta_pk(org), stream_sk(stream_id), consistent_read=True)
        except StreamItem.DoesNotExist:
            return None
        return {**json.loads(item.doc), "version": item.version}

    def save_stream(self, where: OrgStorage, stream: dict, entry: Optional[Entry], deleted: bool = False) -> dict:
        """Write a stream's settings (or delete them) and the entry recording the change, both or neither.

        Written only over the version the change was made from (``stream["version"]``; none: a new stream):
        a change made meanwhile is a ``Conflict`` and nothing is written.
        """
        org = where.org
        document = {name: value for name, value in stream.items() if name != "version"}
        item = StreamItem(keys.meta_pk(org), stream_sk(stream["id"]), doc=json.dumps(document, sort_keys=True))
        if stream.get("version"):
            item.version = stream["version"]
        if entry is not None:
            entry = self._prepared(where, [entry])[0]
        entry_item, uploaded = self._to_item(where, entry, sealed=True) if entry else (None, [])
        # One token per change (its entry's id): a retry of the same write is the same transaction; another
        # change made from the same version is another one (it then fails its version condition, not the token's).
        change = entry.id if entry else f"{stream.get('version')} {deleted}"
        token = hashlib.sha256(f"stream {org} {stream['id']} {change}".encode()).hexdigest()[:36]

        def write() -> None:
            with TransactWrite(connection=table_connection().connection, client_request_token=token) as transaction:
                if deleted:
                    transaction.delete(item)
                else:
                    transaction.save(item)
                if entry_item is not None:
                    transaction.save(entry_item)

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except TransactWriteError as error:
            if any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons or []):
                raise Conflict("the stream was changed meanwhile; read it again", "id") from None
            raise
        if deleted:
            self._forget_stream(org, stream["id"])
        return {**document, "version": item.version}

    def _forget_stream(self, org: str, stream_id: str) -> None:
        """A deleted stream's state and waiting entries (TTL would take the entries; the state has none)."""
        client, table = table_connection().connection.client, EntryItem.Meta.table_name
        client.delete_item(TableName=table, Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": state_sk(stream_id)}})
        while True:
            waiting = self.waiting(org, stream_id, WAITING_PAGE)
            if not waiting:
                return
            self.remove_waiting(org, stream_id, [entry_id for entry_id, _ in waiting])

    # -- delivery state -------------------------------------------------------------------

    def stream_state(self, org: str, stream_id: str) -> dict:
        """``{last_delivery, last_error, failing_since, backfill}`` (None each when not yet known)."""
        answer = table_connection().connection.client.get_item(
            TableName=EntryItem.Meta.table_name,
            Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": state_sk(stream_id)}},
            ConsistentRead=True,
        )
        raw = answer.get("Item") or {}
        state: dict[str, Any] = {}
        for name, attribute in _STATE.items():
            value = raw.get(attribute)
            state[name] = None if value is None else (int(value["N"]) if "N" in value else json.loads(value["S"]))
        return state

    def set_stream_state(self, org: str, stream_id: str, **changes: Any) -> None:
        """Set (a value) or clear (None) some of the state's fields, leaving the others as they are."""
        sets, removes, values, names = [], [], {}, {}
        for index, (name, value) in enumerate(changes.items()):
            attribute = _STATE[name]
            names[f"#a{index}"] = attribute
            if value is None:
                removes.append(f"#a{index}")
            else:
                sets.append(f"#a{index} = :v{index}")
                values[f":v{index}"] = {"N": str(value)} if isinstance(value, int) else {"S": json.dumps(value)}
        expression = " ".join(
            part
            for part in (
                ("SET " + ", ".join(sets)) if sets else "",
                ("REMOVE " + ", ".join(removes)) if removes else "",
            )
            if part
        )
        if not expression:
            return
        request: dict[str, Any] = {
            "TableName": EntryItem.Meta.table_name,
            "Key": {"pk": {"S": keys.meta_pk(org)}, "sk": {"S": state_sk(stream_id)}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        table_connection().connection.client.update_item(**request)

    # -- waiting entries ------------------------------------------------------------------

    def add_waiting(self, org: str, stream_id: str, documents: list[dict], expires_at: int) -> None:
        """Entries (API documents) waiting for the stream; an entry's newer version replaces the older one."""
        client, table = table_connection().connection.client, EntryItem.Meta.table_name
        requests = []
        for document in {document["id"]: document for document in documents}.values():
            item = {"pk": {"S": waiting_pk(org, stream_id)}, "sk": {"S": document["id"]}, "exp": {"N": str(expires_at)}}
            packed = zlib.compress(json.dumps(document, separators=(",", ":")).encode())
            if len(packed) <= WAITING_DOC_BYTES:
                item["doc"] = {"B": packed}
            requests.append({"PutRequest": {"Item": item}})
        _batch_write(client, table, requests)

    def waiting(
        self, org: str, stream_id: str, limit: int, after: Optional[str] = None
    ) -> list[tuple[str, Optional[dict]]]:
        """Up to ``limit`` waiting entries, oldest id first: ``(id, document)``; None: too large to copy, read the entry."""
        query: dict[str, Any] = {
            "TableName": EntryItem.Meta.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": waiting_pk(org, stream_id)}},
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after:
            query["ExclusiveStartKey"] = {"pk": {"S": waiting_pk(org, stream_id)}, "sk": {"S": after}}
        items = table_connection().connection.client.query(**query).get("Items", [])
        return [
            (raw["sk"]["S"], json.loads(zlib.decompress(raw["doc"]["B"])) if "doc" in raw else None) for raw in items
        ]

    def oldest_waiting(self, org: str, stream_id: str) -> Optional[str]:
        """The id of the oldest waiting entry (the stream's lag is its age), or None."""
        found = self.waiting(org, stream_id, 1)
        return found[0][0] if found else None

    def remove_waiting(self, org: str, stream_id: str, entry_ids: list[str]) -> None:
        client, table = table_connection().connection.client, EntryItem.Meta.table_name
        requests = [
            {"DeleteRequest": {"Key": {"pk": {"S": waiting_pk(org, stream_id)}, "sk": {"S": entry_id}}}}
            for entry_id in entry_ids
        ]
        _batch_write(client, table, requests)


_STATE = {"last_delivery": "ld", "last_error": "le", "failing_since": "fs", "backfill": "bf"}


def _batch_write(client: Any, table: str, requests: list[dict]) -> None:
    for start in range(0, len(requests), 25):
        pending = {table: requests[start : start + 25]}
        for attempt in range(WRITE_ATTEMPTS * 3):
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
            backoff(attempt)
        else:
            raise RuntimeError("DynamoDB kept some of a batch unprocessed")
