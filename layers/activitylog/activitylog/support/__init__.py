"""Support look-ups: an entry by the id a customer gives support, wherever it lives now.

- ``lookup``  the hot table first (every entry still there, past its retention or not), then
              the archive (entries TTL has removed), with where it was found and when it left
- ``archive_query``  an org's entries in the archive with DuckDB, filtered like ``GET /activities``
              (``activitylog archive query``): above both the archive and the warm tier it reads
- ``access``  every read through the API recorded in the org's own log first, with support's reason

``SupportLookup(service, ArchiveStore(bucket), detail_view).get(support_caller, entry_id, query)`` answers
the entry's detail with ``found_in`` (``hot`` or ``archive``).
"""
