"""The DynamoDB key design, in one place. This file decides the cost and speed of every query.

One table. Every key starts with the organization, so no query can reach another org.

==========  =========================================  ==============================  ====================
index       partition key                              sort key                        answers
==========  =========================================  ==============================  ====================
(table)     ``pk``  ``{org}#{shard}``                  ``sk``  ``{id}``                no filter, dates
by_type     ``tpk`` ``{org}#{shard}#{type}``           ``ssk`` ``{type}#{status}#{id}``  type × status
by_user     ``upk`` ``{org}#{user}``                   ``ssk``                         a team member × type × status
by_entity   ``epk`` ``{org}#{shard}#{entity_type}``    ``ssk``                         an entity type × type × status
by_record   ``rpk`` ``{org}#{entity_type}#{entity_id}`` ``ssk``                        a record × type × status
==========  =========================================  ==============================  ====================

- Ids are ULIDs, so the sort key orders by time and a date range is a BETWEEN on ids.
- The type and the status sit in front of the id in every index's sort key: any type or
  status multi-select on any index is exact key conditions, never a FilterExpression
  (FAILED is ~2% of entries, so a filter would read ~50 items per hit; a user who never
  receives webhooks would read their whole history to answer "user × WEBHOOK" with
  nothing). One query per (type, status) pair; a pair with no entries reads nothing.
  The type is redundant in by_type's sort key (its partition has it); one attribute
  serves every index. The price: a status change rewrites the index
  entries (two index writes), which only job updates pay.
- Busy partitions carry a write shard (``crc32(id) % shards``). Reads fan out over
  every shard and merge by id, so results never depend on the shard count. One team
  member's and one record's entries never approach a partition's 1,000 writes/s, so
  ``by_user`` and ``by_record`` are not sharded. ``by_user`` and ``by_entity``/``by_record``
  are sparse: only entries with a user actor or an entity are in them.
- Indexes project only the list columns; the detail reads the table item.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Iterable, Optional

from activitylog.entry import ActorKind, EntryType, Status

SEP = "#"
BY_TYPE = "by_type"
BY_USER = "by_user"
BY_ENTITY = "by_entity"
BY_RECORD = "by_record"

ALL_TYPES = tuple(EntryType)
ALL_STATUSES = tuple(Status)


def shard_of(entry_id: str, shards: int) -> int:
    """The write shard of an entry: stable for its id, spread evenly."""
    return zlib.crc32(entry_id.encode()) % shards


def table_pk(org: str, shard: int) -> str:
    return f"{org}{SEP}{shard}"


def shard_number(pk: str) -> int:
    """The write shard a table item lives under (the last part of its ``pk``)."""
    return int(pk.rsplit(SEP, 1)[1])


# The org's meta item (not an entry: it has none of the index keys, so no index holds it).
SHARDS_META = "shards"


def meta_pk(org: str) -> str:
    return f"{org}{SEP}meta"


def type_pk(org: str, shard: int, entry_type: EntryType) -> str:
    return f"{org}{SEP}{shard}{SEP}{entry_type.value}"


def user_pk(org: str, user_id: str) -> str:
    return f"{org}{SEP}{user_id}"


def entity_pk(org: str, shard: int, entity_type: str) -> str:
    return f"{org}{SEP}{shard}{SEP}{entity_type}"


def record_pk(org: str, entity_type: str, entity_id: str) -> str:
    return f"{org}{SEP}{entity_type}{SEP}{entity_id}"


def index_sk(entry_type: EntryType, status: Status, entry_id: str) -> str:
    """Every index's sort key: type and status are exact key conditions, the id orders."""
    return f"{entry_type.value}{SEP}{status.value}{SEP}{entry_id}"


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
        "ssk": index_sk(entry_type, status, entry_id),
        "tpk": type_pk(org, shard, entry_type),
    }
    if actor_kind is ActorKind.USER:
        keys["upk"] = user_pk(org, actor_id)
    if entity_type:
        keys["epk"] = entity_pk(org, shard, entity_type)
        if entity_id:
            keys["rpk"] = record_pk(org, entity_type, entity_id)
    return keys


@dataclass(frozen=True)
class Branch:
    """One key-exact query: a partition of the table, or one (type, status) of an index partition."""

    index: Optional[str]  # None: the table itself
    hash_key: str
    status: Optional[Status] = None
    entry_type: Optional[EntryType] = None  # set with status on every index branch
    # The share of the merged result this branch is known to supply, where it is known:
    # write shards split an id space evenly, so each of S table shards supplies 1/S.
    expected_share: Optional[float] = None

    def range_bounds(self, low_id: str, high_id: str) -> tuple[str, str]:
        """Inclusive sort-key bounds for ids in [low_id, high_id]."""
        if self.status is None:
            return low_id, high_id
        return (index_sk(self.entry_type, self.status, low_id),
                index_sk(self.entry_type, self.status, high_id))


@dataclass(frozen=True)
class Plan:
    """How one filter set is answered: the branches to merge and what is left to filter."""

    branches: tuple[Branch, ...]
    residual_types: frozenset[EntryType] = frozenset()
    residual_user: Optional[str] = None
    residual_entity_type: Optional[str] = None

    @property
    def index(self) -> Optional[str]:
        return self.branches[0].index

    @property
    def has_residual(self) -> bool:
        return bool(self.residual_types or self.residual_user or self.residual_entity_type)


def plan(
    org: str,
    shards: int,
    types: Iterable[EntryType] = (),
    statuses: Iterable[Status] = (),
    user: Optional[str] = None,
    entity_type: Optional[str] = None,
    entity_id: Optional[str] = None,
) -> Plan:
    """Pick the index and the exact-key branches for a filter set.

    The most selective axis drives: one record, then one user, then an entity type,
    then type × status; no filter reads the table. Type and status are always key
    conditions (one branch per pair). What no key covers (a user with a record or an
    entity type) is left as a residual filter.
    """
    chosen_types = tuple(sorted(set(types), key=ALL_TYPES.index)) or ALL_TYPES
    statuses = tuple(sorted(set(statuses), key=ALL_STATUSES.index)) or ALL_STATUSES
    all_types = len(chosen_types) == len(ALL_TYPES)
    all_statuses = len(statuses) == len(ALL_STATUSES)
    shard_range = range(shards)

    def per_pair(index: str, hash_keys: Iterable[str]) -> tuple[Branch, ...]:
        return tuple(Branch(index, key, status, entry_type)
                     for key in hash_keys for entry_type in chosen_types for status in statuses)

    if entity_id:
        return Plan(per_pair(BY_RECORD, [record_pk(org, entity_type, entity_id)]), residual_user=user)
    if user:
        return Plan(per_pair(BY_USER, [user_pk(org, user)]), residual_entity_type=entity_type)
    if entity_type:
        return Plan(per_pair(BY_ENTITY, [entity_pk(org, s, entity_type) for s in shard_range]))
    if not all_types or not all_statuses:
        return Plan(tuple(Branch(BY_TYPE, type_pk(org, s, t), status, t)
                          for t in chosen_types for s in shard_range for status in statuses))
    return Plan(tuple(Branch(None, table_pk(org, s), expected_share=1 / shards) for s in shard_range))
