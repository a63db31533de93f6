"""The org's catalogue of what its log has seen: each (type, action) and each webhook's event, with a count
and when last seen, what ``GET /catalog`` answers with no scan (one Query of these items).

One meta item per name, ``keys.meta_pk(org)`` / ``keys.catalog_sk(...)``, holding ``cc`` (the count) and
``cls`` (the latest entry's time, epoch ms); no ``ty``, so it is no entry. Only bounded names are counted:
the action (a verb), and a webhook's event (the provider's event name); any other entry's event is a
one-line label with names in it, so it is not a vocabulary.

All of an org's counters live in one partition, which entries' shards exist to spread writes away from:
so, as ``ActorDirectory`` does for members, each container keeps its own tally and writes a name at most
once per ``catalog_interval`` seconds (one ADD of what it counted meanwhile); a name new to the
container is written at once, so a new action shows as soon as it is recorded. A count lags by at most
the interval per writing container, and a container Lambda retires takes its last interval's tally with it.
Mixed into ``EntryStore``, which calls ``note_catalog`` once entries are written.
"""

from __future__ import annotations

import time
from typing import Iterable, Optional

from botocore.exceptions import ClientError

from activitylog import keys
from activitylog.entry import Entry, EntryType
from activitylog.store.models import EntryItem, meta_items, table_connection

# How many names one container keeps a tally of across all orgs before it starts over.
KNOWN_LIMIT = 50_000
# Seconds between a container's writes of one (org, name): at most one write a minute per writer, whatever the rate.
CATALOG_INTERVAL = 60.0

Tally = tuple[Optional[float], int, int]  # (when this container last wrote it, uses since, latest epoch ms since)


class Catalog:
    """The catalogue's writes (after each write of entries) and its read; the tally is this container's."""

    _tally: dict[tuple[str, str], Tally]  # (org, catalogue sort key) -> Tally
    catalog_interval: float = CATALOG_INTERVAL

    def note_catalog(self, org: str, entries: Iterable[Entry]) -> None:
        """Count these entries' action and webhook event in this container's tally, and write each name that
        is new to the container or was last written ``catalog_interval`` seconds ago or more.

        Called once the entries are written: a failed write keeps its uses in the tally for the next one
        (the entries themselves are never refused for it).
        """
        counted: dict[str, tuple[int, int]] = {}
        for entry in entries:
            seen = int(entry.occurred_at.timestamp() * 1000)
            names = [keys.catalog_sk(keys.CATALOG_ACTION, entry.type.value, entry.action)]
            if entry.type is EntryType.WEBHOOK:
                names.append(keys.catalog_sk(keys.CATALOG_EVENT, entry.event))
            for name in names:
                uses, latest = counted.get(name, (0, 0))
                counted[name] = (uses + 1, max(latest, seen))
        if len(self._tally) > KNOWN_LIMIT:
            self._tally.clear()
        now = time.monotonic()
        for name, (uses, latest) in counted.items():
            written, pending, pending_latest = self._tally.get((org, name), (None, 0, 0))
            pending, pending_latest = pending + uses, max(pending_latest, latest)
            if written is not None and now - written < self.catalog_interval:
                self._tally[(org, name)] = (written, pending, pending_latest)
                continue  # written lately by this container: counted here until the interval is up
            try:
                _add(org, name, pending, pending_latest)
                self._tally[(org, name)] = (now, 0, 0)
            except Exception:  # noqa: BLE001 - the entries are written; these uses go with the name's next write
                from activitylog.observability import logger, metrics

                self._tally[(org, name)] = (written, pending, pending_latest)
                logger.exception("catalogue not updated", extra={"org_id": org})
                metrics.add_metric(name="CatalogMissed", unit="Count", value=1)

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


def _add(org: str, name: str, uses: int, latest: int) -> None:
    """Add ``uses`` to a name's count and move its last seen to ``latest`` unless it is later already
    (DynamoDB has no max: a writer that finds a later time adds its uses alone)."""
    client = table_connection().connection.client
    key = {"pk": {"S": keys.meta_pk(org)}, "sk": {"S": name}}
    try:
        client.update_item(
            TableName=EntryItem.Meta.table_name,
            Key=key,
            UpdateExpression="ADD cc :uses SET cls = :latest",
            ConditionExpression="attribute_not_exists(cls) OR cls < :latest",
            ExpressionAttributeValues={":uses": {"N": str(uses)}, ":latest": {"N": str(latest)}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        client.update_item(
            TableName=EntryItem.Meta.table_name,
            Key=key,
            UpdateExpression="ADD cc :uses",
            ExpressionAttributeValues={":uses": {"N": str(uses)}},
        )
