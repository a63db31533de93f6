"""The archive function: every version of every entry, from the table's stream to the S3 archive.

A failing batch is split and retried by Lambda (BisectBatchOnFunctionError), and what still
fails goes to the on-failure queue (template.yaml). Its role writes archive objects and
manifests, reads large details and the orgs' policies; it cannot read or change an entry.
"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from activitylog.archive.writer import Archiver
from activitylog.observability import logger, metrics
from activitylog.wiring import DYNAMODB_STREAM, container, entrypoint


def archive(archiver: Archiver, event: DynamoDBStreamEvent) -> dict:
    done = archiver.archive(event.records)
    for name, value in (("ArchivedVersions", done.versions), ("ExpiredEntries", done.expired), ("ArchiveObjects", done.objects)):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if done.removed:  # nothing in the service deletes entries: someone did, and the archive kept them
        logger.warning("entries deleted outside their retention", extra={"count": done.removed})
        metrics.add_metric(name="DeletedEntries", unit=MetricUnit.Count, value=done.removed)
    return done.to_dict()


lambda_handler = entrypoint(DYNAMODB_STREAM, lambda event, context: archive(container().archiver, DynamoDBStreamEvent(event)))
