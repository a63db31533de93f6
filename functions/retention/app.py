"""The retention function: applies an org's retention change to what existed before it.

Fed by the table's stream, filtered (template.yaml's FilterCriteria) to the orgs' policy
items: each change, and each chunk's progress written back, brings the next chunk. Its role
reads and re-stamps entries and re-tags the org's archive objects; nothing else.
"""

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from activitylog.observability import job_entrypoint
from activitylog.retention.restamp import Restamper

lambda_handler = job_entrypoint(Restamper.from_environment, lambda restamper, event: {"orgs": restamper.on_stream(event.records)},
                                DynamoDBStreamEvent)
