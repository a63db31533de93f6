"""The retention function: applies an org's retention change to what existed before it.

Fed by the ``RetentionChanges`` FIFO queue (a message group per org), to which the streams' fan-out hands each write
of an org's policy item, the stream record unchanged: each change, and each chunk's progress written back, brings
the next chunk (activitylog/retention/changes.py). Its role reads and re-stamps entries and re-tags the org's
archive objects; nothing else (it does not read the table's stream).
"""

from activitylog.retention.changes import handle
from activitylog.wiring import SQS, container, entrypoint

lambda_handler = entrypoint(SQS, lambda event, context: handle(container().restamper, event, context))
