"""One way to wire a function: one settings model from template.yaml's names, one entrypoint for every function."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "activitylog" / "activitylog"
# Variables a function is given that are not the service's to read: Powertools' own and glibc's.
NOT_SETTINGS = ("POWERTOOLS_", "MALLOC_")


def _functions() -> dict[str, dict]:
    from samlocal.template import load, resources

    return {name: resource["Properties"] for name, resource in resources(load(), "AWS::Serverless::Function").items()}


def _variables(props: dict) -> set[str]:
    from samlocal.template import load

    shared = load()["Globals"]["Function"]["Environment"]["Variables"]
    return set(shared) | set((props.get("Environment") or {}).get("Variables") or {})


def _handler(logical_id: str, props: dict):
    from tests.support.kit import load_handler_module

    return getattr(load_handler_module(logical_id), props["Handler"].rsplit(".", 1)[1])


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "activity-log-test", 256, "lambda-request-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:activity-log-test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_every_variable_the_template_gives_a_function_is_a_settings_field_and_every_template_field_is_given():
    from activitylog.config import fields_by_variable

    fields = fields_by_variable()
    given: set[str] = set()
    for name, props in _functions().items():
        variables = {v for v in _variables(props) if not v.startswith(NOT_SETTINGS)}
        assert variables <= set(fields), f"{name} is given {sorted(variables - set(fields))}, which no settings field reads"
        given |= variables
    from_template = {variable for variable, spec in fields.items() if spec.metadata["source"] == "template"}
    assert from_template == given, f"fields the template never sets: {sorted(from_template - given)}"


def test_settings_are_parsed_from_the_names_the_template_uses():
    from activitylog.config import Settings

    settings = Settings.from_environ({"TABLE_NAME": "t", "WEBHOOK_QUEUE_URL": "https://sqs/q", "INGEST_RETRY_SECONDS": "3",
                                      "EXPORT_INLINE_ROWS": "5", "EXPORT_LINK_BASE_URL": "https://api.example.com/",
                                      "ORG_SETTINGS": '{"org_big": {"shards": 8}}', "DETAIL_BUCKET": ""})
    assert (settings.table_name, settings.webhook_queue_url, settings.ingest_retry_seconds) == ("t", "https://sqs/q", 3)
    assert (settings.exports.inline_rows, settings.exports.link_base_url) == (5, "https://api.example.com")
    assert settings.org("org_big").shards == 8 and settings.detail_bucket is None
    with pytest.raises(ValueError, match="DEFAULT_SHARDS"):
        Settings.from_environ({"DEFAULT_SHARDS": "two"})


def test_the_environment_is_parsed_once_per_container_and_again_after_reset(monkeypatch):
    from activitylog import wiring
    from activitylog.config import Settings

    parsed = []
    original = Settings.from_environ.__func__
    monkeypatch.setattr(Settings, "from_environ", classmethod(lambda cls, environ=None: parsed.append(1) or original(cls, environ)))
    wiring.reset()
    monkeypatch.setenv("TABLE_NAME", "first")
    first = wiring.container()
    monkeypatch.setenv("TABLE_NAME", "second")
    assert wiring.container() is first and first.settings.table_name == "first" and len(parsed) == 1
    wiring.reset()
    assert wiring.container().settings.table_name == "second" and len(parsed) == 2
    wiring.reset()


def test_only_the_settings_model_reads_the_environment():
    readers = []
    for path in sorted(LAYER.rglob("*.py")):
        if path.name == "config.py" and path.parent == LAYER:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") or \
                    isinstance(node, ast.alias) and node.name in ("environ", "getenv"):
                readers.append(str(path.relative_to(LAYER)))
    assert readers == []


def test_every_function_in_the_template_is_made_by_the_one_entrypoint_for_its_event_source():
    from activitylog import wiring
    from activitylog.api.source import HTTP_API

    by_event = {"HttpApi": HTTP_API, "SQS": wiring.SQS, "DynamoDB": wiring.DYNAMODB_STREAM,
                "Schedule": wiring.SCHEDULE, "EventBridgeRule": wiring.EVENTBRIDGE}
    functions = _functions()
    assert len(functions) >= 15
    for name, props in functions.items():
        kinds = {event["Type"] for event in (props.get("Events") or {}).values()}
        # No event of its own: a state machine's task invokes it (the export worker).
        expected = {by_event[kind] for kind in kinds} or {wiring.STEP_FUNCTIONS}
        assert getattr(_handler(name, props), "source", None) in expected, f"{name}'s lambda_handler is not wiring.entrypoint's"


@pytest.mark.parametrize("source, event, correlation_id", [
    ("HTTP_API", {"requestContext": {"requestId": "req-1"}}, "req-1"),
    ("SQS", {"Records": [{"messageId": "msg-1"}, {"messageId": "msg-2"}]}, "msg-1"),
    ("DYNAMODB_STREAM", {"Records": [{"eventID": "change-1"}]}, "change-1"),
    ("EVENTBRIDGE", {"id": "event-1", "detail-type": "RunRequested"}, "event-1"),
    ("SCHEDULE", {"id": "schedule-1", "detail-type": "Scheduled Event"}, "schedule-1"),
    ("STEP_FUNCTIONS", {"step": "begin", "export": {"export_id": "01JEXPORT"}}, "01JEXPORT"),
    ("STEP_FUNCTIONS", {"step": "retry", "bulk": {"org": "org_1", "bulk_id": "01JBULK"}}, "01JBULK"),
])
def test_each_event_source_logs_with_its_correlation_id(source, event, correlation_id):
    from activitylog import wiring
    from activitylog.api import source as api_source
    from activitylog.observability import logger

    seen = []
    handler = wiring.entrypoint(getattr(wiring, source, None) or getattr(api_source, source), lambda event, context: seen.append(logger.get_correlation_id()) or {})
    handler(event, Context())
    assert seen == [correlation_id]


def test_the_openapi_function_logs_with_the_requests_correlation_id_and_answers_the_document():
    from activitylog.observability import logger

    functions = _functions()
    name = next(n for n, p in functions.items() if any((e.get("Properties") or {}).get("Path") == "/openapi.json"
                                                       for e in (p.get("Events") or {}).values()))
    event = {"version": "2.0", "routeKey": "GET /openapi.json", "rawPath": "/openapi.json", "rawQueryString": "", "headers": {},
             "requestContext": {"requestId": "openapi-request-1", "http": {"method": "GET", "path": "/openapi.json",
                                                                           "sourceIp": "127.0.0.1"}, "stage": "$default"},
             "isBase64Encoded": False}
    logger.set_correlation_id(None)
    answer = _handler(name, functions[name])(event, Context())
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["openapi"].startswith("3.")
    assert logger.get_correlation_id() == "openapi-request-1"


def test_a_refusal_before_routing_is_answered_by_the_apis_error_mapping():
    from activitylog import wiring
    from activitylog.api.source import HTTP_API
    from activitylog.errors import PayloadTooLarge, Unavailable

    def refusing(failure):
        def handle(event, context):
            raise failure
        return wiring.entrypoint(HTTP_API, handle)

    too_large = refusing(PayloadTooLarge("body is 9 bytes; the limit is 8", "body"))({"requestContext": {"requestId": "r"}}, Context())
    assert (too_large["statusCode"], json.loads(too_large["body"])) == (413, {"message": "body is 9 bytes; the limit is 8", "field": "body"})
    busy = refusing(Unavailable("try again"))({"requestContext": {"requestId": "r"}}, Context())
    assert busy["statusCode"] == 503 and busy["headers"]["Retry-After"] == "1"
