"""CSV exports of the activity log, of any size (issue 11).

- ``record``   the export as an activity: its BACKGROUND_JOB entry ``EXPORT_ACTIVITY_LOG``,
               the filters read by the list's own parser, the status view
- ``csvfile``  the columns, one row per entry, RFC 4180 text, formula injection neutralised
- ``files``    the S3 side: multipart upload, the file's SHA-256, presigned downloads
- ``links``    download links: signed tokens bound to an export, its org and requester, expiring
- ``service``  the operations: the API's (request, status, download) and the state machine's
               steps (begin, write, complete, fail)

Small exports (at most ``EXPORT_INLINE_ROWS`` rows and ``EXPORT_INLINE_BYTES`` bytes) are the
answer to ``POST /exports``; larger ones run in infra/statemachines/export.asl.json and end
in an email with a link.

``POST /exports`` calls ``container().exports.request(caller, filters)`` (``service.ExportService``).
"""
