"""How one organization is stored: the one answer the store is given, and no feature recomputes.

Its write shards (where a new entry goes), every shard it has ever written (where reads look:
lowering the count must hide nothing), and its retention: hot days (each entry's expiry, the
prefix of an offloaded detail) and archive days. ``ActivityService.storage`` builds it from
the deployment's settings and the org's meta items (its shard history, its own policy).

>>> OrgStorage("org_1", write_shards=2, read_shards=8, hot_days=730, archive_days=2555)
OrgStorage(org='org_1', write_shards=2, read_shards=8, hot_days=730, archive_days=2555, table_days=None)

The store takes it with every call: ``store.put(where, entry)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from activitylog.masking import FieldMask


@dataclass(frozen=True)
class OrgStorage:
    org: str
    write_shards: int  # today's shard count: a new entry's shard is ``keys.shard_of(id, write_shards)``
    read_shards: int  # every shard it has ever written to (at least ``write_shards``)
    hot_days: int  # how long entries stay in the table (and listed)
    archive_days: int  # how long the S3 archive keeps each version
    # where a warm tier holds older entries: the days an entry can be recorded and change (the table keeps it a
    # grace longer, ``rules.table_expiry_days``); None: the table holds the whole retention
    table_days: Optional[int] = None
    # its masked fields and fingerprint key (``activitylog.masking``): every entry written is masked with it first
    masking: Optional["FieldMask"] = field(default=None, repr=False, compare=False)
