"""The streams' fan-out: each new entry version from the table's stream to the waiting items of every stream of its
org that wants it, then one doorbell per stream on the FIFO queue (activitylog/streams/delivery.py). It is the table
stream's second reader (the archive is the first), so it also hands the orgs' policy changes, unchanged, to the
re-stamp's FIFO queue, RetentionChanges (activitylog/retention/changes.py).

A failing batch (a failed send included) is split and retried by Lambda, then reported to its on-failure queue
(template.yaml). Its role reads the orgs' streams, writes waiting items and sends to those two queues; it cannot
change an entry.
"""

from activitylog.wiring import DYNAMODB_STREAM, container, entrypoint

lambda_handler = entrypoint(DYNAMODB_STREAM, lambda event, context: container().fanout.handle(event.get("Records", [])))
