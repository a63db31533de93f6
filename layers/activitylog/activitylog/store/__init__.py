"""All data access: the only code that talks to DynamoDB, answering domain objects.

- ``models``   the pynamodb models (what is on disk), ``bind``, and ``table_connection()``: the one
               accessor of the low-level connection
- ``codec``    an item <-> an entry (and a Query's raw answer read like an item)
- ``entries``  ``EntryStore``: entries' writes and reads
- ``orgmeta``  the org's meta items: shard history, retention policy and its re-stamp, quotas
- ``actors``   the org's directory of team members the log has seen (the User filter's search)
- ``catalog``  the org's catalogue: each action and webhook event seen, its count and last seen (GET /catalog)
- ``streams``  the org's streams: their settings, delivery state and waiting entries (activitylog.streams)
- ``retries``  what "DynamoDB is busy" looks like, and the backoff between attempts

``EntryStore(DetailStore(settings.detail_bucket)).put(service.storage(org), entry)`` writes one.
"""

from activitylog import keys
from activitylog.store.entries import EVENTS_PER_TRANSACTION, EntryStore, KeyUsed
from activitylog.store.models import (
    LIST_COLUMNS,
    EntryItem,
    EventMarker,
    KeyItem,
    PolicyItem,
    bind,
    table_connection,
)
from activitylog.store.retries import WRITE_ATTEMPTS, backoff, unavailable

__all__ = [
    "EVENTS_PER_TRANSACTION",
    "LIST_COLUMNS",
    "WRITE_ATTEMPTS",
    "EntryItem",
    "EntryStore",
    "EventMarker",
    "KeyItem",
    "KeyUsed",
    "PolicyItem",
    "backoff",
    "bind",
    "keys",
    "table_connection",
    "unavailable",
]
