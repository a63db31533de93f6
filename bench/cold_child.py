"""One cold start, run in a fresh interpreter by ``coldstart.py``; it reports on stderr and leaves.

``handler``: import the query function's module (found in template.yaml by the parent)
and answer one ``GET /activities`` (the test kit's payload-v2 event, built by the parent)
against the seeded table.
``floor``: Powertools' resolver, Logger and Metrics, a botocore DynamoDB client and one
Query of 50 items, none of the service's code: the least a handler on this architecture
can do. Either way the process leaves with ``os._exit`` at the answer: a Lambda runtime
never tears the interpreter down, so neither does the measurement.
"""

import time

# The test kit's context class is bench plumbing, not the function's own cold start: loaded before the clock starts.
from samlocal.context import LambdaContext  # noqa: E402

STARTED = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def handler() -> tuple[float, int, int]:
    sys.path.insert(0, os.environ["BENCH_CODE_DIR"])
    module_name, function_name = os.environ["BENCH_HANDLER"].rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), function_name)
    imported = time.perf_counter()
    answer = function(json.loads(os.environ["BENCH_EVENT"]), LambdaContext(name="activity-log-query", memory=1024, timeout=15))
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
