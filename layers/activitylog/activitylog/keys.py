"""The DynamoDB key design, in one place. This file decides the cost and speed of every query.

One table. Every key a query of the API uses starts with the organization, so no query can
reach another org (``open_jobs``, the sweeper's alone, is the exception below).

==============  =========================================  ======================  ===========================
index           partition key                              sort key                answers
==============  =========================================  ======================  ===========================
(table)         ``pk``  ``{org}#{shard}``                  ``sk``  ``{id}``        no filter, dates
by_type         ``tpk`` ``{org}#{shard}#{type}``           ``ssk`` ``{status}#{id}``  type × status
by_user         ``upk`` ``{org}#{user}``                   ``ssk``                 one team member
by_entity       ``epk`` ``{org}#{shard}#{entity_type}``    ``ssk``                 an entity type
by_record       ``rpk`` ``{org}#{entity_type}#{entity_id}`` ``ssk``                one record's history
by_correlation  ``cpk`` ``{org}#{correlation_id}``         ``ssk``                 one chain (``/related``,
                                                                                   ``?correlation_id=``)
by_trace        ``trpk`` ``{org}#{trace_id}``              ``ssk``                 one W3C trace (``?trace_id=``)
open_jobs       ``opk`` ``open#{n}``                       ``odl`` (number)        jobs past their deadline
                                                           the stall deadline      (the sweeper; keys only)
==============  =========================================  ======================  ===========================

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
- ``by_correlation`` is sparse: only entries with a ``correlation_id`` (a user action, the
  jobs it started, their webhooks and retries) pay its write unit. One chain is small and
  never busy, so it is not sharded.
- ``by_trace`` is sparse like ``by_correlation``: only entries written with a W3C trace (a
  ``traceparent``) pay its write unit. It is its own index, not ``by_correlation``'s: an entry
  has one chain and one trace and they differ (a chain outlives a request's trace: a retry
  an hour later joins the chain under a new trace), and an index item has one partition key.
  A marker item per trace instead (as provider events have) would turn each plain put into a
  transaction, which costs twice the write units. ``bench/trace_index.py`` measures the price.
- ``open_jobs`` holds only IN_PROGRESS jobs: ``odl`` is when the job stalls (its last
  progress plus its timeout, epoch seconds), so the sweeper's "stalled now" is one range
  query per partition, never a scan. A progress report moves the deadline (the index item
  is rewritten: two small writes), a final status removes it. It is the one index whose key
  does not start with the org: the sweeper serves every org at once and reads keys only,
  then each entry by its own key. ``n`` (``crc32(id) % OPEN_JOB_PARTITIONS``) spreads the
  progress writes of many orgs' jobs over partitions. The sweeper's other due work shares it:
  a quota window (an org meta item, ``quota#…``) that counted uses past its limit is in it
  until its summary entry is written, due at the window's end (``odl``).

- A provider event's **marker** (``{org}#events{n}`` / ``event#{provider}#{hash}``, no index keys,
  so no index holds it) is written with the event's entry in one transaction, on the condition
  that it does not exist: one entry per (org, provider, event id) whatever the entry's time and
  the org's shard count (``event_marker_keys``).

- The org's **members directory** (``{org}#meta`` / ``actor#{id}``, no index keys): one item per team
  member the log has seen, what ``GET /members`` searches by name (``activitylog.store.actors``).
- The org's **catalogue** (``{org}#meta`` / ``catalog#action#{type}#{action}``, ``catalog#event#{event}``, no
  index keys): a count and last seen per name, what ``GET /catalog`` answers (``activitylog.store.catalog``).

Which partitions a filter set reads is the planner's choice (``activitylog.query.planner``).
"""

from __future__ import annotations

import hashlib
import math
import zlib
from datetime import datetime
from typing import Any, Optional

from activitylog.entry import ActorKind, EntryType, Status

SEP = "#"
BY_TYPE = "by_type"
BY_USER = "by_user"
BY_ENTITY = "by_entity"
BY_RECORD = "by_record"
BY_CORRELATION = "by_correlation"
BY_TRACE = "by_trace"
OPEN_JOBS = "open_jobs"
OPEN_JOB_PARTITIONS = 4


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
PRIVACY_META = "privacy"  # its masked field patterns (``store.privacy``)
MASK_KEY_META = "maskkey"  # its fingerprint key, wrapped (read only when a value is masked)
META_ITEMS = (SHARDS_META, RETENTION_META, PRIVACY_META)


def meta_pk(org: str) -> str:
    return f"{org}{SEP}meta"


# The org's directory of team members (user actors) the log has seen: one meta item each, under
# ``meta_pk`` beside the shard history (so the roles that read meta items read these too, and one
# Query lists them). Not entries: no ``ty``, so no index, archive or stream consumer takes them.
ACTOR_PREFIX = f"actor{SEP}"


def actor_sk(actor_id: str) -> str:
    return f"{ACTOR_PREFIX}{actor_id}"


# The org's catalogue (``GET /catalog``): a count and last seen per (type, action) and per webhook event, one meta
# item each beside the members (``activitylog.store.catalog``); an event may hold ``#``: it is the key's last part.
CATALOG_PREFIX = f"catalog{SEP}"
CATALOG_ACTION, CATALOG_EVENT = "action", "event"


def catalog_sk(kind: str, *names: str) -> str:
    return CATALOG_PREFIX + SEP.join((kind, *names))


def org_of(pk: str) -> str:
    """The org of any item's partition key (``{org}#{shard}``, ``{org}#meta``, ``{org}#events{n}``): orgs hold no ``#``."""
    return pk.rsplit(SEP, 1)[0]


def quota_sk(name: str) -> str:
    """A meta item counting an org's uses of something per window (``webhook-rejections#{minute}``)."""
    return f"quota{SEP}{name}"


# A provider event's marker: the item that says "this event is recorded, as entry X". Its key is
# the event's identity alone (org, provider, the provider's event id): never the entry's time or
# the org's shard count, which may differ between two deliveries of one event. It is written in
# the same transaction as the entry, on the condition that it does not exist. A fixed number of
# partitions (never the org's shard count) spreads a busy org's markers.
EVENT_PARTITIONS = 16


def event_marker_keys(org: str, provider: str, event_id: str) -> tuple[str, str]:
    """``(pk, sk)`` of the marker of ``provider``'s event ``event_id`` in ``org``: ``{org}#events{n}``, ``event#{provider}#{sha256}``."""
    digest = hashlib.sha256(f"{provider}{SEP}{event_id}".encode()).hexdigest()
    return f"{org}{SEP}events{int(digest[:8], 16) % EVENT_PARTITIONS}", f"event{SEP}{provider}{SEP}{digest[:40]}"


def type_pk(org: str, shard: int, entry_type: EntryType) -> str:
    return f"{org}{SEP}{shard}{SEP}{entry_type.value}"


def user_pk(org: str, user_id: str) -> str:
    return f"{org}{SEP}{user_id}"


def entity_pk(org: str, shard: int, entity_type: str) -> str:
    return f"{org}{SEP}{shard}{SEP}{entity_type}"


def record_pk(org: str, entity_type: str, entity_id: str) -> str:
    return f"{org}{SEP}{entity_type}{SEP}{entity_id}"


def correlation_pk(org: str, correlation_id: str) -> str:
    return f"{org}{SEP}{correlation_id}"


def trace_pk(org: str, trace_id: str) -> str:
    return f"{org}{SEP}{trace_id}"


def open_job_pk(partition: int) -> str:
    return f"open{SEP}{partition}"


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
    correlation_id: Optional[str] = None,
    stalls_at: Optional[datetime] = None,
    trace_id: Optional[str] = None,
) -> dict[str, Any]:
    """Every key attribute of one entry's item: the table's and each index's it belongs to.

    ``shard`` is where an existing entry already lives (it stays put if the org's shard
    count changes); a new entry gets ``shard_of(id, shards)``. An IN_PROGRESS entry with a
    ``stalls_at`` deadline is in ``open_jobs``.
    """
    if shard is None:
        shard = shard_of(entry_id, shards)
    keys: dict[str, Any] = {
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
    if correlation_id:
        keys["cpk"] = correlation_pk(org, correlation_id)
    if trace_id:
        keys["trpk"] = trace_pk(org, trace_id)
    if status is Status.IN_PROGRESS and stalls_at is not None:
        keys["opk"] = open_job_pk(zlib.crc32(entry_id.encode()) % OPEN_JOB_PARTITIONS)
        keys["odl"] = math.ceil(stalls_at.timestamp())
    return keys
