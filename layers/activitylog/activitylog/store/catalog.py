"""The org's catalogue of what its log has seen: each (type, action) and each webhook's event, with a count
and when last seen, what ``GET /catalog`` answers with no scan (one Query of these items).

One meta item per name, ``keys.meta_pk(org)`` / ``keys.catalog_sk(...)``, holding ``cc`` (the count) and
``cls`` (the latest entry's time, epoch ms); no ``ty``, so it is no entry. Only bounded names are counted:
the action (a verb), and a webhook's event (the provider's event name); any other entry's event is a
one-line label with names in it, so it is not a vocabulary.

The counts are kept off the write path, by the archive function, from the table's stream (which it reads
anyway: a reader of its own would add to the stream's readers, which AWS advises to keep to two a shard): each batch adds its entries' uses in one update per
name, so a count lags by the archive's batching window and loses nothing. Counting in the writing
containers did (a tally flushed at most once a minute per name was lost with the container when the name
did not recur). A batch Lambda retries as it was adds nothing twice: each item remembers the last batch
that added to it (``lb``).
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from botocore.exceptions import ClientError

from activitylog import keys
from activitylog.store.models import EntryItem, meta_items, table_connection

Uses = dict[tuple[str, str], tuple[int, int]]  # (org, catalogue sort key) -> (uses, latest epoch ms)


def uses_of(lines: Iterable[dict]) -> Uses:
    """Each (org, name)'s uses and latest time among these archive lines' new entries (``INSERT``)."""
    from datetime import datetime

    counted: Uses = {}
    for line in lines:
        if line["change"] != "INSERT":
            continue
        seen = int(datetime.fromisoformat(line["occurred_at"].replace("Z", "+00:00")).timestamp() * 1000)
        names = [keys.catalog_sk(keys.CATALOG_ACTION, line["type"], line["action"])]
        if line["type"] == "WEBHOOK":
            names.append(keys.catalog_sk(keys.CATALOG_EVENT, line["event"]))
        for name in names:
            uses, latest = counted.get((line["org"], name), (0, 0))
            counted[(line["org"], name)] = (uses + 1, max(latest, seen))
    return counted


class Catalog:
    """The catalogue's counting (from the archive function) and its read (``GET /catalog``)."""

    def count_catalog(self, uses: Uses, batch: str) -> int:
        """Add a stream batch's ``uses`` to the org's counts: one update per name (DynamoDB's ADD; the last seen
        moves only forward). ``batch`` names the batch (its records' sequence numbers): sent again, it adds nothing.
        Answers how many names were written."""
        token = hashlib.sha256(batch.encode()).hexdigest()[:32]
        for (org, name), (count, latest) in sorted(uses.items()):
            _add(org, name, count, latest, token)
        return len(uses)

    def catalog_counts(self, org: str) -> dict[str, list[dict]]:
        """The org's counted names: ``{"actions": [{type, action, count, last_seen_ms}], "events": [{event, ...}]}``,
        each by count (most first), then name. One Query of the org's catalogue items (~80 bytes each)."""
        found: dict[str, list[dict]] = {"actions": [], "events": []}
        for raw in meta_items(org, keys.CATALOG_PREFIX, "sk, cc, cls"):
            kind, rest = raw["sk"]["S"][len(keys.CATALOG_PREFIX) :].split(keys.SEP, 1)
            counts = {"count": int(raw["cc"]["N"]), "last_seen_ms": int(raw["cls"]["N"])}
            if kind == keys.CATALOG_ACTION:
                type_, action = rest.split(keys.SEP, 1)
                found["actions"].append({"type": type_, "action": action, **counts})
            elif kind == keys.CATALOG_EVENT:
                found["events"].append({"event": rest, **counts})
        for items in found.values():
            items.sort(key=lambda item: (-item["count"], item.get("action") or item.get("event"), item.get("type", "")))
        return found


def _add(org: str, name: str, uses: int, latest: int, batch: str) -> None:
    """Add ``uses`` to a name's count and move its last seen to ``latest`` unless it is later already
    (DynamoDB has no max: then the uses are added alone); nothing when the item's last batch was this one."""
    client = table_connection().connection.client
    key = {"pk": {"S": keys.meta_pk(org)}, "sk": {"S": name}}
    once = "(attribute_not_exists(lb) OR lb <> :batch)"
    values = {":uses": {"N": str(uses)}, ":batch": {"S": batch}}
    try:
        client.update_item(
            TableName=EntryItem.Meta.table_name,
            Key=key,
            UpdateExpression="ADD cc :uses SET cls = :latest, lb = :batch",
            ConditionExpression=f"{once} AND (attribute_not_exists(cls) OR cls < :latest)",
            ExpressionAttributeValues={**values, ":latest": {"N": str(latest)}},
        )
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    try:
        client.update_item(
            TableName=EntryItem.Meta.table_name,
            Key=key,
            UpdateExpression="ADD cc :uses SET lb = :batch",
            ConditionExpression=once,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        # this batch was added already: Lambda sent it again
