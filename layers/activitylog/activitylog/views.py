"""What the API shows of an entry: the detail panel, with whether Retry is offered.

The entry stays a plain record; how it is shown (and the job register's verdict on Retry) is decided
here, once, for every reader of an entry: the API, support's look-ups and the streams.

>>> from activitylog.entry import EntryType, Status
>>> run = Entry("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", EntryType.BACKGROUND_JOB, Status.FAILED, {"kind": "system", "id": "sync"},
...             "failed", "Stock sync failed", {"type": "job", "id": "run_1"}, metadata={"job": "SYNC_SQUARE_STOCK"})
>>> detail_view(run)["retry"]
{'allowed': True}
"""

from __future__ import annotations

from activitylog.entry import DETAIL_UNAVAILABLE, Entry, iso_time
from activitylog.jobtypes import retry_state


def detail_view(entry: Entry) -> dict:
    """Everything the detail panel shows: before/after diff, metadata, error, why a failure or warning is so
    (``reason``), what became of its retries (``retried``, a list column) and Retry's state.

    An offloaded detail that cannot be found leaves the list columns and says so,
    rather than failing the whole answer.
    """
    if entry.detail_missing:
        return {**entry.list_view(), "detail_unavailable": DETAIL_UNAVAILABLE}
    return {
        **entry.list_view(),
        "recorded_at": iso_time(entry.recorded_at) if entry.recorded_at else None,
        "finished_at": iso_time(entry.finished_at) if entry.finished_at else None,
        "sequence": entry.sequence,
        "changes": entry.changes,
        "metadata": entry.metadata,
        "error": entry.error,
        "correlation_id": entry.correlation_id,
        "trace_id": entry.trace_id,
        "span_id": entry.span_id,
        "retry_of": entry.retry_of,
        "source": entry.source,
        "recorded_by": entry.recorded_by,
        "expires_at": entry.expires_at,
        "retry": retry_state(entry),
        "reason": entry.reason,
    }
