"""The retention function: applies an org's retention change to what existed before it.

Fed by the table's stream, filtered (template.yaml's FilterCriteria) to the orgs' policy
items: each change, and each chunk's progress written back, brings the next chunk. Its role
reads and re-stamps entries and re-tags the org's archive objects; nothing else.
"""

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from activitylog.wiring import DYNAMODB_STREAM, container, entrypoint

lambda_handler = entrypoint(DYNAMODB_STREAM,
                            lambda event, context: {"orgs": container().restamper.on_stream(DynamoDBStreamEvent(event).records)})
