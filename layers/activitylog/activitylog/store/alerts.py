"""An org's alerts in the table: their settings and each one's notification window.

==========================  ===============================  =====================================================
item                        pk / sk                          holds
==========================  ===============================  =====================================================
an alert's settings         ``{org}#meta`` / ``alert#{id}``   ``doc`` (JSON: name, filter, destination, owner,
                                                             status, ...) and ``ver`` (each change)
its window                  ``{org}#meta`` /                 ``due`` when the open window is sent (epoch ms),
                            ``alertwindow#{id}``              ``ids`` its new matching entries (a string set: a
                                                             retried stream batch adds the same ids again, no
                                                             more), ``more`` past ``WINDOW_IDS``, ``opened``,
                                                             ``armer`` (the entry that opened it), ``n`` (a change
                                                             counter), ``sent`` (the last notification, epoch ms),
                                                             ``prev`` (its ids), ``sending`` (JSON: a window claimed,
                                                             not yet confirmed sent, ``sdue`` its due)
==========================  ===============================  =====================================================

Neither has ``ty``: no index, the archive and the fan-out's filter skip them. A settings change is written with its
SYSTEM_EVENT entry in one transaction (as a stream's is). Part of ``EntryStore``.
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

ALERT_PREFIX = f"alert{keys.SEP}"
WINDOW_PREFIX = f"alertwindow{keys.SEP}"
WINDOW_IDS = 1000  # ids a window keeps (26 bytes each, far under the item's 400 KB); past it, only counted


def alert_sk(alert_id: str) -> str:
    return ALERT_PREFIX + alert_id


def window_sk(alert_id: str) -> str:
    return WINDOW_PREFIX + alert_id


class AlertStore:
    """The alerts' reads and writes (mixed into ``EntryStore``, whose ``_to_item`` and ``_retrying`` they use)."""

    if TYPE_CHECKING:  # EntryStore's, for the type checker

        def _to_item(self, where: OrgStorage, entry: Entry, sealed: bool = False) -> tuple[EntryItem, list[str]]: ...
        def _removed_on_failure(self, uploaded: list[str]) -> AbstractContextManager[None]: ...
        def _retrying(self, write: Callable[[], Any]) -> Any: ...
        def _prepared(self, where: OrgStorage, entries: list[Entry]) -> list[Entry]: ...

    # -- settings ---------------------------------------------------------------------------

    def alerts(self, org: str) -> list[dict]:
        """Every alert of ``org`` (settings documents, each with its ``version``), by id."""
        found = []
        query: dict[str, Any] = {
            "TableName": EntryItem.Meta.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": keys.meta_pk(org)}, ":prefix": {"S": ALERT_PREFIX}},
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

    def alert(self, org: str, alert_id: str) -> Optional[dict]:
        try:
            item = StreamItem.get(keys.meta_pk(org), alert_sk(alert_id), consistent_read=True)
        except StreamItem.DoesNotExist:
            return None
        return {**json.loads(item.doc), "version": item.version}

    def save_alert(self, where: OrgStorage, alert: dict, entry: Entry, deleted: bool = False) -> dict:
        """Write an alert's settings (or delete them) and the entry recording the change, both or neither; only over
        the version the change was made from (a change made meanwhile is a ``Conflict``)."""
        org = where.org
        document = {name: value for name, value in alert.items() if name != "version"}
        item = StreamItem(keys.meta_pk(org), alert_sk(alert["id"]), doc=json.dumps(document, sort_keys=True))
        if alert.get("version"):
            item.version = alert["version"]
        entry = self._prepared(where, [entry])[0]
        entry_item, uploaded = self._to_item(where, entry, sealed=True)
        token = hashlib.sha256(f"alert {org} {alert['id']} {entry.id}".encode()).hexdigest()[:36]

        def write() -> None:
            with TransactWrite(connection=table_connection().connection, client_request_token=token) as transaction:
                if deleted:
                    transaction.delete(item)
                else:
                    transaction.save(item)
                transaction.save(entry_item)

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except TransactWriteError as error:
            if any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons or []):
                raise Conflict("the alert was changed meanwhile; read it again", "id") from None
            raise
        if deleted:
            self.forget_alert_window(org, alert["id"])
        return {**document, "version": item.version}

    # -- the window ---------------------------------------------------------------------------

    def alert_window(self, org: str, alert_id: str) -> dict:
        """The window's attributes as plain values (``ids``/``prev`` as sets, ``sending`` parsed); {} when none."""
        raw = (
            table_connection()
            .connection.client.get_item(
                TableName=EntryItem.Meta.table_name,
                Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": window_sk(alert_id)}},
                ConsistentRead=True,
            )
            .get("Item")
            or {}
        )
        return _plain(raw)

    def note_alert_matches(
        self, org: str, alert_id: str, entry_ids: list[str], due: int, opened: int, sent: Optional[int], room: int
    ) -> Optional[dict]:
        """Add matching entries to the open window, opening it (``due``) if none is: one conditional update, made
        over the ``sent`` read (a notification sent meanwhile moves the next window: None, read again). ``room``:
        ids the window can still keep; the rest are counted in ``more``. Answers the window as it is now."""
        kept, extra = entry_ids[: max(room, 0)], len(entry_ids) - max(room, 0)
        sets = [
            "#due = if_not_exists(#due, :due)",
            "opened = if_not_exists(opened, :opened)",
            "armer = if_not_exists(armer, :armer)",
        ]
        adds = ["n :one"]
        values: dict[str, Any] = {
            ":due": {"N": str(due)},
            ":opened": {"N": str(opened)},
            ":armer": {"S": entry_ids[0]},
            ":one": {"N": "1"},
        }
        if kept:
            adds.append("ids :ids")
            values[":ids"] = {"SS": kept}
        if extra > 0:
            adds.append("more :more")
            values[":more"] = {"N": str(extra)}
        if sent is None:
            condition = "attribute_not_exists(sent)"
        else:
            condition = "sent = :sent"
            values[":sent"] = {"N": str(sent)}
        try:
            answer = table_connection().connection.client.update_item(
                TableName=EntryItem.Meta.table_name,
                Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": window_sk(alert_id)}},
                UpdateExpression=f"SET {', '.join(sets)} ADD {', '.join(adds)}",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#due": "due"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as error:  # botocore's ClientError
            if _condition_failed(error):
                return None
            raise
        return _plain(answer["Attributes"])

    def claim_alert_window(self, org: str, alert_id: str, window: dict, due: int, changes: int, sent: int) -> bool:
        """Take the open window for sending: only the claim made over what was read (its ``due`` and change counter
        ``n``) succeeds, so one window is claimed once, however many messages name it. Its ids become ``prev`` (a
        retried stream batch cannot count them again); ``sending`` holds it until ``confirm_alert_sent``."""
        values: dict[str, Any] = {
            ":due": {"N": str(due)},
            ":n": {"N": str(changes)},
            ":sent": {"N": str(sent)},
            ":sending": {"S": json.dumps(window, sort_keys=True)},
        }
        sets = ["sent = :sent", "sending = :sending", "sdue = :due"]
        removes = ["#due", "ids", "more", "armer", "opened"]
        if window.get("ids"):
            values[":prev"] = {"SS": window["ids"]}
            sets.append("prev = :prev")
        else:
            removes.append("prev")
        try:
            table_connection().connection.client.update_item(
                TableName=EntryItem.Meta.table_name,
                Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": window_sk(alert_id)}},
                UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
                ConditionExpression="#due = :due AND n = :n",
                ExpressionAttributeNames={"#due": "due"},
                ExpressionAttributeValues=values,
            )
        except Exception as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def confirm_alert_sent(self, org: str, alert_id: str, due: int) -> None:
        """The claimed window went out: forget it (unless a later claim took it over meanwhile)."""
        try:
            table_connection().connection.client.update_item(
                TableName=EntryItem.Meta.table_name,
                Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": window_sk(alert_id)}},
                UpdateExpression="REMOVE sending, sdue",
                ConditionExpression="sdue = :due",
                ExpressionAttributeValues={":due": {"N": str(due)}},
            )
        except Exception as error:
            if not _condition_failed(error):
                raise

    def clear_alert_window(self, org: str, alert_id: str) -> None:
        """A paused alert's open window is dropped: it sends nothing, and starts afresh when resumed."""
        table_connection().connection.client.update_item(
            TableName=EntryItem.Meta.table_name,
            Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": window_sk(alert_id)}},
            UpdateExpression="REMOVE #due, ids, more, armer, opened, sending, sdue ADD n :one",
            ExpressionAttributeNames={"#due": "due"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def forget_alert_window(self, org: str, alert_id: str) -> None:
        table_connection().connection.client.delete_item(
            TableName=EntryItem.Meta.table_name,
            Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": window_sk(alert_id)}},
        )


def _plain(raw: dict) -> dict:
    plain: dict[str, Any] = {}
    for name, value in raw.items():
        if name in ("pk", "sk"):
            continue
        if "N" in value:
            plain[name] = int(value["N"])
        elif "SS" in value:
            plain[name] = set(value["SS"])
        elif name == "sending":
            plain[name] = json.loads(value["S"])
        elif "S" in value:
            plain[name] = value["S"]
    return plain


def _condition_failed(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
