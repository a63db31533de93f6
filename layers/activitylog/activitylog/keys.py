"""The DynamoDB key design, in one place. This file decides the cost and speed of every query.

One table. Every key starts with the organization, so no query can reach another org.

==========  =========================================  =====================  ====================
index       partition key                              sort key               answers
==========  =========================================  =====================  ====================
(table)     ``pk``  ``{org}#{shard}``                  ``sk``  ``{id}``       no filter, dates
by_type     ``tpk`` ``{org}#{shard}#{type}``           ``ssk`` ``{status}#{id}``  type × status
by_user     ``upk`` ``{org}#{user}``                   ``ssk``                one team member
by_entity   ``epk`` ``{org}#{shard}#{entity_type}``    ``ssk``                an entity type
by_record   ``rpk`` ``{org}#{entity_type}#{entity_id}`` ``ssk``               one record's history
==========  =========================================  =====================  ====================

- Ids are ULIDs, so the sort key orders by time and a date range is a BETWEEN on ids.
- The status sits in front of the id in every index's sort key: any status multi-select
  is exact key conditions, never a FilterExpression (FAILED is ~2% of entries, so a
  filter would read ~50 items per hit). The price: a status change rewrites the index
  entries (two index writes), which only job updates pay.
- Busy partitions carry a write shard (``crc32(id) % shards``). Reads fan out over
  every shard and merge by id, so results never depend on the shard count. One team
  member's and one record's entries never approach a partition's 1,000 writes/s, so
  ``by_user`` and ``by_record`` are not sharded. ``by_user`` and ``by_entity``/``by_record``
  are sparse: only entries with a user actor or an entity are in them.
- Indexes project only the list columns; the detail reads the table item.

Which partitions a filter set reads is the planner's choice (``activitylog.query.planner``).
"""

from __future__ import annotations

import zlib
from typing import Optional

from activitylog.entry import ActorKind, EntryType, Status

SEP = "#"
BY_TYPE = "by_type"
BY_USER = "by_user"
BY_ENTITY = "by_entity"
BY_RECORD = "by_record"


def shard_of(entry_id: str, shards: int) -> int:
    """The write shard of an entry: stable for its id, spread evenly."""
    return zlib.crc32(entry_id.encode()) % shards


def table_pk(org: str, shard: int) -> str:
    return f"{org}{SEP}{shard}"


def shard_number(pk: str) -> int:
    """The write shard a table item lives under (the last part of its ``pk``)."""
    return int(pk.rsplit(SEP, 1)[1])


# The org's meta items (not entries: they have none of the index keys, so no index holds them),
# all under one partition key: its shard history and its retention policy.
SHARDS_META = "shards"
RETENTION_META = "retention"
META_ITEMS = (SHARDS_META, RETENTION_META)


def meta_pk(org: str) -> str:
    return f"{org}{SEP}meta"


def org_of(pk: str) -> str:
    """The org of any item's partition key (``{org}#{shard}`` or ``{org}#meta``): orgs hold no ``#``."""
    return pk.rsplit(SEP, 1)[0]


def quota_sk(name: str) -> str:
    """A meta item counting an org's uses of something per window (``webhook-rejections#{minute}``)."""
    return f"quota{SEP}{name}"


def type_pk(org: str, shard: int, entry_type: EntryType) -> str:
    return f"{org}{SEP}{shard}{SEP}{entry_type.value}"


def user_pk(org: str, user_id: str) -> str:
    return f"{org}{SEP}{user_id}"


def entity_pk(org: str, shard: int, entity_type: str) -> str:
    return f"{org}{SEP}{shard}{SEP}{entity_type}"


def record_pk(org: str, entity_type: str, entity_id: str) -> str:
    return f"{org}{SEP}{entity_type}{SEP}{entity_id}"


def status_sk(status: Status, entry_id: str) -> str:
    return f"{status.value}{SEP}{entry_id}"


def item_keys(
    org: str,
    entry_id: str,
    shards: int,
    entry_type: EntryType,
    status: Status,
    actor_kind: ActorKind,
    actor_id: str,
    entity_type: Optional[str],
    entity_id: Optional[str],
    shard: Optional[int] = None,
) -> dict[str, str]:
    """Every key attribute of one entry's item: the table's and each index's it belongs to.

    ``shard`` is where an existing entry already lives (it stays put if the org's shard
    count changes); a new entry gets ``shard_of(id, shards)``.
    """
    if shard is None:
        shard = shard_of(entry_id, shards)
    keys = {
        "pk": table_pk(org, shard),
        "sk": entry_id,
        "ssk": status_sk(status, entry_id),
        "tpk": type_pk(org, shard, entry_type),
    }
    if actor_kind is ActorKind.USER:
        keys["upk"] = user_pk(org, actor_id)
    if entity_type:
        keys["epk"] = entity_pk(org, shard, entity_type)
        if entity_id:
            keys["rpk"] = record_pk(org, entity_type, entity_id)
    return keys
