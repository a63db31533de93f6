"""The activity events function: the activity events queue's SQS event source (BatchSize 10, ReportBatchItemFailures).

Each platform bus event (a job's start, progress and completion, a user action, a system event)
creates its entry or moves its job run's entry along; what fails is reported and comes back
(activitylog.jobs.ingest).
"""

from activitylog.wiring import SQS, container, entrypoint

lambda_handler = entrypoint(SQS, lambda event, context: container().activity_ingest.handle(event, context))
