"""The sample events under tests/events/ are AWS's shapes: Powertools' own models of each parse them,
and the events the local runtime builds carry the same fields as the samples."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    DynamoDBStreamModel,
    EventBridgeModel,
    SqsModel,
)

from tests.support.events import EVENTS, eventbridge_event, sample, sqs_record

MODELS = {
    "apiGatewayProxyV2Event": APIGatewayProxyEventV2Model,
    "sqsEvent": SqsModel,
    "eventBridgeEvent": EventBridgeModel,
    "scheduledEvent": EventBridgeModel,
    "dynamoStreamEvent": DynamoDBStreamModel,
}


def test_every_sample_has_a_model():
    assert sorted(path.stem for path in EVENTS.glob("*.json")) == sorted(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_sample_parses_with_powertools_model_of_it(name):
    parse(event=sample(name), model=MODELS[name])  # raises on a missing or mistyped field


def test_a_sample_that_drifts_from_aws_shape_fails_its_model():
    drifted = sample("sqsEvent")
    del drifted["Records"][0]["receiptHandle"]
    with pytest.raises(Exception, match="receiptHandle"):
        parse(event=drifted, model=SqsModel)


def test_the_builders_fill_in_the_samples():
    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": "{}", "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b"}
    record = sqs_record(message, "arn:aws:sqs:eu-west-1:123456789012:activity-events")
    parsed = parse(event={"Records": [record]}, model=SqsModel).Records[0]
    assert (parsed.messageId, parsed.body, parsed.awsRegion) == ("m-1", "{}", "eu-west-1")
    event = eventbridge_event({"Source": "activitylog.jobs", "DetailType": "JobFinished", "Detail": '{"org": "org_1"}'},
                              time="2026-11-26T11:00:00Z")
    parsed = parse(event=event, model=EventBridgeModel)
    assert (parsed.source, parsed.detail_type, parsed.detail) == ("activitylog.jobs", "JobFinished", {"org": "org_1"})


def test_the_runtimes_http_api_event_has_the_samples_fields():
    from tests.support.kit import api_event

    built = api_event("GET", "/activities", query={"status": ["FAILED", "WARNING"]},
                      claims=sample("apiGatewayProxyV2Event")["requestContext"]["authorizer"]["jwt"]["claims"])
    expected = sample("apiGatewayProxyV2Event")
    parse(event=built, model=APIGatewayProxyEventV2Model)
    assert set(expected) <= set(built)
    assert set(expected["requestContext"]) <= set(built["requestContext"])
    assert set(expected["requestContext"]["http"]) == set(built["requestContext"]["http"])
    assert (built["routeKey"], built["rawQueryString"], built["queryStringParameters"]) == (
        expected["routeKey"], expected["rawQueryString"], expected["queryStringParameters"])


def test_the_runtimes_sqs_record_has_the_samples_fields():
    from samlocal.sources import sqs_record as runtime_sqs_record

    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": "{}", "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
               "Attributes": {"ApproximateReceiveCount": "1"}}
    built = runtime_sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:webhooks")
    assert set(built) == set(sample("sqsEvent")["Records"][0])
