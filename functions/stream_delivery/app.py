"""The streams' delivery: each doorbell from the FIFO queue (a message group per stream) delivers its stream's waiting
entries in id order, or holds the lane back with a backoff (activitylog/streams/delivery.py).

Its role reads the streams and their secrets, removes delivered waiting items, records a pause's SYSTEM_EVENT and
emails its admins.
"""

from activitylog.streams.delivery import handle_doorbells
from activitylog.wiring import SQS, container, entrypoint

lambda_handler = entrypoint(
    SQS,
    lambda event, context: handle_doorbells(container().delivery, event, context, container().settings.stream_queue_url),
)
