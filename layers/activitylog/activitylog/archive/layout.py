"""Where the archive keeps things, in one place. The object keys decide what queries can prune.

==============================================================  ===========================================
key                                                             what
==============================================================  ===========================================
``archive/org={org}/date={YYYY-MM-DD}/{HH}-{seq}.jsonl.gz``     entry versions: gzip JSON lines
``manifests/{YYYYMMDDTHHMMSSffffff}Z_{seq}.json``               what one archive invocation wrote (all orgs)
``digests/org={org}/{YYYYMMDDTHHMMSSffffff}Z.json``             (digest bucket) a signed digest
``heads/org={org}.json``                                        (digest bucket) the org's chain head
``checkpoints/org={org}/{tree size, 20 digits}.json``           (digest bucket) a signed Merkle checkpoint
==============================================================  ===========================================

- A version sits in the partition of the day (and the file of the hour) its entry *occurred*
  in, taken from the id: every version of an entry, its expiry marker included, is under one
  prefix, so a look-up by id reads one hour of one day and a date range prunes by day. Athena
  (partition projection) and DuckDB (hive partitioning) read ``org`` and ``date`` from the path.
- ``{seq}`` is the stream sequence number of the object's first line. A redelivered batch, or
  a half of a bisected one, writes the same key for the same first record, so a retry
  replaces an object instead of adding a copy.
- Manifests sort by the time they were written: a digest covers everything written after the
  previous one (``digests``), found with one listing from where that one stopped. One
  invocation writes one manifest for all the orgs of its batch (half the objects of one per org).
- ``{org}`` is percent-encoded (org ids may hold ``/``); lines carry it plain.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional
from urllib.parse import quote, unquote

from activitylog.ids import occurred_at

ARCHIVE_PREFIX = "archive/"
MANIFEST_PREFIX = "manifests/"
DIGEST_PREFIX = "digests/"
HEAD_PREFIX = "heads/"
CHECKPOINT_PREFIX = "checkpoints/"
MANIFEST_TIME = "%Y%m%dT%H%M%S%fZ"
DIGEST_TIME = "%Y%m%dT%H%M%S%fZ"


def org_part(org: str) -> str:
    return quote(org, safe="")


def org_prefix(org: str) -> str:
    """Every archived version of the org."""
    return f"{ARCHIVE_PREFIX}org={org_part(org)}/"


def org_of(prefix: str) -> str:
    """The org of an ``archive/org=…/`` prefix (as a listing by "/" gives it).

    >>> org_of("archive/org=org%2F1/")
    'org/1'
    """
    return unquote(prefix[len(ARCHIVE_PREFIX) :].removeprefix("org=").rstrip("/"))


def date_prefix(org: str, day: str) -> str:
    return f"{org_prefix(org)}date={day}/"


def hour_prefix(org: str, entry_id: str) -> str:
    """The objects that can hold versions of ``entry_id``: its occurred day and hour."""
    moment = occurred_at(entry_id)
    return f"{date_prefix(org, moment.strftime('%Y-%m-%d'))}{moment.strftime('%H')}-"


def data_key(org: str, entry_id: str, first_sequence: str) -> str:
    """The object for versions of entries that occurred in ``entry_id``'s hour, from ``first_sequence`` on."""
    return f"{hour_prefix(org, entry_id)}{first_sequence}.jsonl.gz"


def manifest_key(written: datetime, first_sequence: str) -> str:
    return f"{MANIFEST_PREFIX}{written.astimezone(timezone.utc).strftime(MANIFEST_TIME)}_{first_sequence}.json"


def manifest_time(key: str) -> datetime:
    stamp = key[len(MANIFEST_PREFIX) :].split("_", 1)[0]
    return datetime.strptime(stamp, MANIFEST_TIME).replace(tzinfo=timezone.utc)


def manifests_after(moment: Optional[datetime]) -> Optional[str]:
    """``StartAfter`` for the manifests written after ``moment`` (None: from the first)."""
    if moment is None:
        return None
    return f"{MANIFEST_PREFIX}{moment.astimezone(timezone.utc).strftime(MANIFEST_TIME)}~"  # '~' sorts after '_'


def digest_prefix(org: str) -> str:
    return f"{DIGEST_PREFIX}org={org_part(org)}/"


def digest_key(org: str, until: datetime) -> str:
    return f"{digest_prefix(org)}{until.astimezone(timezone.utc).strftime(DIGEST_TIME)}.json"


def head_key(org: str) -> str:
    return f"{HEAD_PREFIX}org={org_part(org)}.json"


def checkpoint_prefix(org: str) -> str:
    return f"{CHECKPOINT_PREFIX}org={org_part(org)}/"


def checkpoint_key(org: str, tree_size: int) -> str:
    """Keyed by the tree's size, zero-padded: the keys sort as the tree grows, and one size has one key."""
    return f"{checkpoint_prefix(org)}{tree_size:020d}.json"


def checkpoint_size(key: str) -> int:
    return int(key.rsplit("/", 1)[1].split(".", 1)[0])


def days(low: datetime, high: datetime) -> list[str]:
    """The ``date=`` partitions a window touches (UTC days)."""
    found, day = [], low.date()
    while day <= high.date():
        found.append(day.isoformat())
        day += timedelta(days=1)
    return found
