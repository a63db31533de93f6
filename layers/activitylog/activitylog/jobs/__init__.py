"""Background jobs and system events: how the rest of the platform logs, and what the log does with it.

The register of job types (label, retryable, timeout) is the core's: ``activitylog.jobtypes``.

- ``events``    the EventBridge events the client publishes, and RetryRequested
- ``client``    ``ActivityClient``: ``activity.job(...)``, ``activity.record(...)``, buffered publishing
- ``ingest``    the activity events queue's consumer: an event from the bus becomes an entry, or updates its job run's entry
- ``sweeper``   IN_PROGRESS jobs past their stall deadline become WARNING "stalled"
- ``retry``     POST /activities/{id}/retry: a FAILED or WARNING run of a retryable type runs again

A job reports its run through the client: ``with ActivityClient(org=org).job("SYNC_SQUARE_STOCK",
entity=square) as job: job.progress(processed=120, total=500)`` (``client``'s docstring has more).
"""
