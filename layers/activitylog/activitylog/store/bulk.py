"""A bulk retry's progress and its originals' claims (``activitylog.jobs.bulk``), in the idempotency table.

One progress item per bulk retry (its status and counters) and one claim per original it reached.
Every count is one conditional transaction with the claim it counts, so a Map item that Step
Functions runs again counts nothing twice, and a claim is only taken while the progress item is
RUNNING: once a cancel has landed, nothing more is claimed (so nothing more is retried).

>>> progress_id("org_1", "01JC")
'bulk#org_1#01JC'
"""

from __future__ import annotations

import time
from typing import Any, Optional

from botocore.exceptions import ClientError

from activitylog.store.models import BulkRetryItem, table_connection

RUNNING, CANCELLED, DONE, FAILED = "RUNNING", "CANCELLED", "DONE", "FAILED"
STARTED, SKIPPED = "started", "skipped"  # a claim's outcomes, beside FAILED's "failed"


def progress_id(org: str, bulk_id: str) -> str:
    return f"bulk#{org}#{bulk_id}"


def claim_id(org: str, bulk_id: str, original: str) -> str:
    return f"bulk#{org}#{bulk_id}#{original}"


class BulkRetryProgress:
    """Reads and writes of one deployment's bulk retry progress (its ``expires_after`` seconds of TTL)."""

    def __init__(self, expires_after: int) -> None:
        self.expires_after = expires_after

    @property
    def _client(self) -> Any:
        return table_connection(BulkRetryItem).connection.client

    @property
    def _table(self) -> str:
        return BulkRetryItem.Meta.table_name

    def _expiration(self) -> dict:
        return {"N": str(int(time.time()) + self.expires_after)}

    def begin(self, org: str, bulk_id: str, matched: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "id": {"S": progress_id(org, bulk_id)},
                "expiration": self._expiration(),
                "status": {"S": RUNNING},
                "matched": {"N": str(matched)},
                "started": {"N": "0"},
                "failed": {"N": "0"},
                "skipped": {"M": {}},
            },
            ConditionExpression="attribute_not_exists(id)",
        )

    def read(self, org: str, bulk_id: str) -> Optional[dict]:
        item = self._client.get_item(
            TableName=self._table, Key={"id": {"S": progress_id(org, bulk_id)}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return {
            "status": item["status"]["S"],
            "matched": int(item["matched"]["N"]),
            "started": int(item["started"]["N"]),
            "failed": int(item["failed"]["N"]),
            "skipped": {reason: int(count["N"]) for reason, count in item["skipped"]["M"].items()},
            **({"cancelled_by": item["cancelled_by"]["S"]} if "cancelled_by" in item else {}),
        }

    def claim(self, org: str, bulk_id: str, original: str) -> Optional[dict]:
        """Take ``original`` for this bulk retry while it is RUNNING: None when taken now; else the claim as it
        stands (``{"outcome": …}``, no outcome yet if an earlier attempt died mid-way), or ``{"cancelled": True}``."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"id": {"S": claim_id(org, bulk_id, original)}, "expiration": self._expiration()},
                            "ConditionExpression": "attribute_not_exists(id)",
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": {"id": {"S": progress_id(org, bulk_id)}},
                            "ConditionExpression": "#s = :running",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": {":running": {"S": RUNNING}},
                        }
                    },
                ]
            )
            return None
        except ClientError as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]
            if (
                error.response["Error"]["Code"] != "TransactionCanceledException"
                or "ConditionalCheckFailed" not in reasons
            ):
                raise
            if reasons[0] == "ConditionalCheckFailed":
                return self._claim(org, bulk_id, original) or {}
            return {"cancelled": True}

    def _claim(self, org: str, bulk_id: str, original: str) -> Optional[dict]:
        item = self._client.get_item(
            TableName=self._table, Key={"id": {"S": claim_id(org, bulk_id, original)}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return {key: item[key]["S"] for key in ("outcome", "reason", "run_id") if key in item}

    def settle(
        self, org: str, bulk_id: str, original: str, outcome: str, reason: Optional[str], run_id: Optional[str]
    ) -> dict:
        """Write ``original``'s outcome on its claim (creating it for a cancelled one) and count it, once."""
        values: dict[str, Any] = {":outcome": {"S": outcome}, ":one": {"N": "1"}, ":zero": {"N": "0"}}
        claim_sets = ["outcome = :outcome", "expiration = :expiration"]
        values[":expiration"] = self._expiration()
        names: dict[str, str] = {}
        if reason:
            values[":reason"] = {"S": reason[:500]}
            claim_sets.append("reason = :reason")
        if run_id:
            values[":run"] = {"S": run_id}
            claim_sets.append("run_id = :run")
        if outcome == SKIPPED:
            names = {"#r": (reason or "skipped")[:200]}
            count = "SET skipped.#r = if_not_exists(skipped.#r, :zero) + :one"
        else:
            count = f"SET {outcome} = {outcome} + :one"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"id": {"S": claim_id(org, bulk_id, original)}},
                            "UpdateExpression": "SET " + ", ".join(claim_sets),
                            "ConditionExpression": "attribute_not_exists(outcome)",
                            "ExpressionAttributeValues": {
                                key: value for key, value in values.items() if key not in (":one", ":zero")
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"id": {"S": progress_id(org, bulk_id)}},
                            "UpdateExpression": count,
                            **({"ExpressionAttributeNames": names} if names else {}),
                            "ExpressionAttributeValues": {":one": values[":one"], ":zero": values[":zero"]}
                            if outcome == SKIPPED
                            else {":one": values[":one"]},
                        }
                    },
                ]
            )
        except ClientError as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]
            if not reasons or reasons[0] != "ConditionalCheckFailed":
                raise
            return self._claim(org, bulk_id, original) or {}  # settled by an earlier attempt: counted then
        return {"outcome": outcome, **({"reason": reason} if reason else {}), **({"run_id": run_id} if run_id else {})}

    def finish(self, org: str, bulk_id: str, status: str, by: Optional[str] = None) -> bool:
        """RUNNING → ``status`` (CANCELLED by a cancel, ``by`` whom; DONE or FAILED by the machine); False if it had
        left RUNNING already."""
        values = {":status": {"S": status}, ":running": {"S": RUNNING}}
        if by:
            values[":by"] = {"S": by}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": progress_id(org, bulk_id)}},
                UpdateExpression="SET #s = :status" + (", cancelled_by = :by" if by else ""),
                ConditionExpression="#s = :running",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
