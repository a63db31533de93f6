"""One cold start, run in a fresh interpreter by ``coldstart.py``; it reports on stderr and leaves.

``handler``: import the query function's module (found in template.yaml by the parent)
and answer one ``GET /activities`` (payload v2, JWT claims) against the seeded table.
``floor``: Powertools' resolver, Logger and Metrics, a botocore DynamoDB client and one
Query of 50 items, none of the service's code: the least a handler on this architecture
can do. Either way the process leaves with ``os._exit`` at the answer: a Lambda runtime
never tears the interpreter down, so neither does the measurement.
"""

import time

STARTED = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402


class Context:
    function_name = "activity-log-query"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:activity-log-query"
    aws_request_id = str(uuid.uuid4())
    log_group_name = "/aws/lambda/activity-log-query"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 15000


def list_event(org: str) -> dict:
    now = time.time()
    claims = {"org_id": org, "sub": "u_01", "scope": "activity:read", "name": "Bench"}
    return {
        "version": "2.0", "routeKey": "GET /activities", "rawPath": "/activities", "rawQueryString": "",
        "headers": {"accept": "application/json", "authorization": "Bearer bench", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": "GET", "path": "/activities", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "bench"},
            "requestId": uuid.uuid4().hex, "routeKey": "GET /activities", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
            "authorizer": {"jwt": {"claims": claims, "scopes": ["activity:read"]}},
        },
        "isBase64Encoded": False,
    }


def handler() -> tuple[float, int, int]:
    sys.path.insert(0, os.environ["BENCH_CODE_DIR"])
    module_name, function_name = os.environ["BENCH_HANDLER"].rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), function_name)
    imported = time.perf_counter()
    answer = function(list_event(os.environ["BENCH_ORG"]), Context())
    return imported, answer["statusCode"], len(json.loads(answer["body"]).get("items", []))


def floor() -> tuple[float, int, int]:
    import botocore.session
    from aws_lambda_powertools import Logger, Metrics  # noqa: F401
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: F401

    imported = time.perf_counter()
    client = botocore.session.get_session().create_client("dynamodb")
    page = client.query(TableName=os.environ["TABLE_NAME"], KeyConditionExpression="pk = :pk",
                        ExpressionAttributeValues={":pk": {"S": os.environ["BENCH_ORG"] + "#0"}},
                        ScanIndexForward=False, Limit=50)
    return imported, 200, len(page["Items"])


imported, status, items = handler() if sys.argv[1] == "handler" else floor()
answered = time.perf_counter()
print("BENCH_RESULT " + json.dumps({
    "status": status, "items": items, "import_ms": (imported - STARTED) * 1000,
    "answer_ms": (answered - imported) * 1000, "in_process_ms": (answered - STARTED) * 1000,
    "answered_at": time.time(), "modules": len(sys.modules),
}), file=sys.stderr, flush=True)
os._exit(0)
