"""The subject keys table (template.yaml's ``SubjectKeyTable``): one item per data subject of an org, holding the
subject's data key wrapped under the service key (``activitylog.subjects`` seals and shows with it).

=====  ================================================================
name   attribute
=====  ================================================================
pk     ``{org}#{kind}#{subject id}``
kid    the key's id (a new one after each erasure), named by every token sealed under it
wk     the data key, wrapped by KMS under the service key (org in the encryption context)
n      entries sealed under it (added at each write: what an erasure reports it covers)
ca     created, epoch ms
=====  ================================================================

Erasure deletes the item: no tombstone, so the next entry about the subject makes a new key.
"""

from __future__ import annotations

import time
from typing import Optional

from botocore.exceptions import ClientError

from activitylog.config import client_config
from activitylog.store.retries import WRITE_ATTEMPTS, backoff


class SubjectKeyTable:
    """Reads and writes of subject key items; ``pk`` values come from ``activitylog.subjects``."""

    def __init__(self, table_name: str, region: Optional[str] = None) -> None:
        import boto3

        self.table_name = table_name
        # The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB (DynamoDB Local), as the models' do.
        self.client = boto3.client("dynamodb", region_name=region, config=client_config())

    def claim(self, pk: str, entries: int) -> Optional[tuple[str, bytes]]:
        """Count ``entries`` more under the subject's key and answer it ``(kid, wrapped)``; None if it has none
        (never made, or erased). Conditional on the item existing, so a write never counts under an erased key."""
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": pk}},
                UpdateExpression="ADD n :n",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":n": {"N": str(entries)}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        item = answer["Attributes"]
        return item["kid"]["S"], item["wk"]["B"]

    def create(self, pk: str, kid: str, wrapped: bytes, entries: int) -> bool:
        """Store a new key for a subject that has none; False if another writer stored one first."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": pk},
                    "kid": {"S": kid},
                    "wk": {"B": wrapped},
                    "n": {"N": str(entries)},
                    "ca": {"N": str(int(time.time() * 1000))},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def current(self, pks: list[str]) -> dict[str, tuple[str, bytes]]:
        """The live key of each of these subjects (pk -> (kid, wrapped)); an erased one is absent.
        Consistent reads (100 keys a call), so an erasure is honoured by the very next read."""
        found: dict[str, tuple[str, bytes]] = {}
        for start in range(0, len(pks), 100):
            wanted: dict = {
                self.table_name: {
                    "Keys": [{"pk": {"S": pk}} for pk in pks[start : start + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, kid, wk",
                }
            }
            for attempt in range(WRITE_ATTEMPTS):
                answer = self.client.batch_get_item(RequestItems=wanted)
                for raw in answer.get("Responses", {}).get(self.table_name, []):
                    found[raw["pk"]["S"]] = (raw["kid"]["S"], raw["wk"]["B"])
                wanted = answer.get("UnprocessedKeys") or {}
                if not wanted:
                    break
                backoff(attempt)
        return found

    def destroy(self, pk: str) -> Optional[tuple[str, int]]:
        """Delete the subject's key: ``(kid, entries counted under it)``, or None when it had none."""
        answer = self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": pk}}, ReturnValues="ALL_OLD")
        old = answer.get("Attributes")
        if not old:
            return None
        return old["kid"]["S"], int(old.get("n", {}).get("N", "0"))


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
