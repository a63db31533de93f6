"""The ingest function: the webhook queue's SQS event source (BatchSize 10, ReportBatchItemFailures).

Each batch's deliveries become WEBHOOK entries written together, every provider event once;
what fails is reported and comes back (activitylog.webhooks.ingest).
"""

from activitylog.wiring import SQS, container, entrypoint

lambda_handler = entrypoint(SQS, lambda event, context: container().ingest.handle(event, context))
