"""The retention function: applies an org's retention change to what existed before it.

Fed by the table's stream, filtered (template.yaml's FilterCriteria) to the orgs' policy
items: each change, and each chunk's progress written back, brings the next chunk. Its role
reads and re-stamps entries and re-tags the org's archive objects; nothing else.
"""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source

from activitylog.observability import logger, metrics, traced
from activitylog.retention.restamp import Restamper

_restamper = None


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: Any) -> dict:
    global _restamper
    if _restamper is None:
        _restamper = Restamper.from_environment()
    return {"orgs": _restamper.on_stream(event.records)}
