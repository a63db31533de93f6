"""All data access: the only code that talks to DynamoDB, answering domain objects.

- ``models``   the pynamodb models (what is on disk), ``bind``, and ``table()``: the one accessor
               of the low-level connection
- ``codec``    an item <-> an entry (and a Query's raw answer read like an item)
- ``entries``  ``EntryStore``: entries' writes and reads
- ``orgmeta``  the org's meta items: shard history, retention policy and its re-stamp, quotas
- ``retries``  what "DynamoDB is busy" looks like, and the backoff between attempts

>>> store = EntryStore(DetailStore(settings.detail_bucket))
>>> store.put(service.storage("org_1"), entry)
"""

from activitylog.store.entries import *  # noqa: F401,F403 - the package's face
from activitylog.store.entries import (EntryItem, EntryStore, KeyItem, KeyUsed, PolicyItem, EventMarker,  # noqa: F401
                                       LIST_COLUMNS, WRITE_ATTEMPTS, backoff, bind, client_config, unavailable, keys)
