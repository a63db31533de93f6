"""The query planner: which key-exact queries ("branches") answer one filter set.

The key formats it builds on are in ``activitylog.keys``; this module only decides which
partitions (and statuses) to read and what is left to filter.

>>> plan = plan_query("org_1", shards=2, types=[EntryType.BACKGROUND_JOB], statuses=[Status.FAILED])
>>> [(b.index, b.hash_key, b.status.value) for b in plan.branches]
[('by_type', 'org_1#0#BACKGROUND_JOB', 'FAILED'), ('by_type', 'org_1#1#BACKGROUND_JOB', 'FAILED')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from activitylog.entry import EntryType, Status
from activitylog.keys import (
    BY_CORRELATION,
    BY_ENTITY,
    BY_RECORD,
    BY_TRACE,
    BY_TYPE,
    BY_USER,
    correlation_pk,
    entity_pk,
    record_pk,
    status_sk,
    table_pk,
    trace_pk,
    type_pk,
    user_pk,
)

ALL_TYPES = tuple(EntryType)
ALL_STATUSES = tuple(Status)


@dataclass(frozen=True)
class Branch:
    """One key-exact query: a partition of the table or of an index, optionally one status."""

    index: Optional[str]  # None: the table itself
    hash_key: str
    status: Optional[Status] = None
    # The share of the merged result this branch is known to supply, where it is known:
    # write shards split an id space evenly, so each of S table shards supplies 1/S.
    expected_share: Optional[float] = None

    def range_bounds(self, low_id: str, high_id: str) -> tuple[str, str]:
        """Inclusive sort-key bounds for ids in [low_id, high_id]."""
        if self.status is None:
            return low_id, high_id
        return status_sk(self.status, low_id), status_sk(self.status, high_id)


@dataclass(frozen=True)
class Plan:
    """How one filter set is answered: the branches to merge and what is left to filter."""

    branches: tuple[Branch, ...]
    residual_types: frozenset[EntryType] = frozenset()
    residual_user: Optional[str] = None
    residual_entity_type: Optional[str] = None
    residual_entity_id: Optional[str] = None

    @property
    def index(self) -> Optional[str]:
        return self.branches[0].index

    @property
    def has_residual(self) -> bool:
        return bool(self.residual_types or self.residual_user or self.residual_entity_type or self.residual_entity_id)


def plan_query(
    org: str,
    shards: int,
    types: Iterable[EntryType] = (),
    statuses: Iterable[Status] = (),
    user: Optional[str] = None,
    entity_type: Optional[str] = None,
    entity_id: Optional[str] = None,
    correlation_id: Optional[str] = None,
    trace_id: Optional[str] = None,
) -> Plan:
    """Pick the index and the exact-key branches for a filter set.

    The most selective axis drives: one trace, one chain, then one record, then one user, then an
    entity type, then type × status; no filter reads the table. Status is always a key condition.
    What no key covers (a type with a user or an entity, a user with an entity type) is
    left as a residual filter on few items.
    """
    types = frozenset(types)
    statuses = tuple(sorted(set(statuses), key=ALL_STATUSES.index)) or ALL_STATUSES
    all_statuses = len(statuses) == len(ALL_STATUSES)
    shard_range = range(shards)

    def per_status(index: str, hash_keys: Iterable[str]) -> tuple[Branch, ...]:
        return tuple(Branch(index, key, status) for key in hash_keys for status in statuses)

    # one trace is as small as one chain (parse_list_request refuses both at once): its index, the rest residual
    chain = (BY_TRACE, trace_pk(org, trace_id)) if trace_id else None
    if correlation_id:
        chain = (BY_CORRELATION, correlation_pk(org, correlation_id))
    if chain:
        index, key = chain
        return Plan(
            per_status(index, [key]),
            residual_types=types,
            residual_user=user,
            residual_entity_type=entity_type,
            residual_entity_id=entity_id,
        )
    if entity_type and entity_id:  # an id comes with its type (parse_list_request refuses one alone)
        return Plan(
            per_status(BY_RECORD, [record_pk(org, entity_type, entity_id)]),
            residual_types=types,
            residual_user=user,
        )
    if user:
        return Plan(
            per_status(BY_USER, [user_pk(org, user)]),
            residual_types=types,
            residual_entity_type=entity_type,
        )
    if entity_type:
        return Plan(per_status(BY_ENTITY, [entity_pk(org, s, entity_type) for s in shard_range]), residual_types=types)
    if (types and len(types) < len(ALL_TYPES)) or not all_statuses:
        chosen = sorted(types or ALL_TYPES, key=ALL_TYPES.index)
        return Plan(per_status(BY_TYPE, [type_pk(org, s, t) for t in chosen for s in shard_range]))
    return Plan(tuple(Branch(None, table_pk(org, s), expected_share=1 / shards) for s in shard_range))
