"""The streams' fan-out: each new entry version from the table's stream to the waiting items of every stream of its
org that wants it, then one doorbell per stream on the FIFO queue (activitylog/streams/delivery.py).

A failing batch is split and retried by Lambda, then reported to its on-failure queue (template.yaml). Its role reads
the orgs' streams and writes waiting items; it cannot change an entry.
"""

from activitylog.wiring import DYNAMODB_STREAM, container, entrypoint

lambda_handler = entrypoint(DYNAMODB_STREAM, lambda event, context: container().fanout.handle(event.get("Records", [])))
