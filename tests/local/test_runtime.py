"""The local runtime against the fixture template: each event source kind, in-process.

Given the fixture stack (tests/local/fixtures/template.yaml), when something happens at
one of its sources, then the function wired to it by the template runs with the event
AWS would send, and the source's failure rules (partial batches, retries, DLQ) hold.
"""

from __future__ import annotations

import json
import os
import time

import boto3
import pytest

from samlocal.auth import DevKey
from tests.support.kit import HttpClient
from tests.support.stack import wait_for


def seen(stack, kind: str) -> list[dict]:
    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb.endpoint, region_name="us-east-1")
    items = client.query(TableName=stack.tables["SeenTable"], KeyConditionExpression="pk = :k",
                         ExpressionAttributeValues={":k": {"S": kind}})["Items"]
    return [json.loads(item["doc"]["S"]) for item in items]


def http(stack, method: str, path: str, token: str | None = None, body: bytes | None = None, headers: dict | None = None):
    return HttpClient(stack.url).send(method, path, body, headers, token=token)


# --- HTTP: routes, payload v2, authorizer -------------------------------------------------------


def test_routes_are_the_templates_http_api_events(fixture_stack):
    assert sorted(fixture_stack.describe()["routes"]) == ["GET /echo/{name}", "GET /nap", "GET /nap/twin", "GET /open", "GET /seen/{kind}", "POST /echo"]


def test_request_becomes_a_payload_v2_event_with_verified_claims(fixture_stack):
    token = fixture_stack.token("org_a", "u_17", "Riley Park", scopes=["read"])
    status, headers, body = http(fixture_stack, "GET", "/echo/al%20ice?b=1&b=2&c=", token, headers={"X-Trace": "t1", "Cookie": "a=1; b=2"})
    assert status == 200
    answer = json.loads(body)
    event = answer["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{name}"
    assert event["rawPath"] == "/echo/al%20ice"
    assert event["rawQueryString"] == "b=1&b=2&c="
    assert event["queryStringParameters"] == {"b": "1,2", "c": ""}
    assert event["pathParameters"] == {"name": "al ice"}
    assert event["headers"]["x-trace"] == "t1" and "X-Trace" not in event["headers"]
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1" and event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["isBase64Encoded"] is False and "body" not in event
    context = event["requestContext"]
    assert context["http"]["method"] == "GET" and context["http"]["path"] == "/echo/al%20ice"
    assert context["routeKey"] == "GET /echo/{name}" and context["stage"] == "$default"
    claims = context["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "u_17" and claims["org_id"] == "org_a" and claims["name"] == "Riley Park"
    assert claims["scope"] == "activity:read"
    assert isinstance(claims["exp"], str)  # API Gateway hands claims over as strings
    # The function's response shape is honoured: its headers and cookies.
    assert headers["x-module"] == "echo"
    assert headers["Set-Cookie"] == "seen=1"


def test_function_environment_is_globals_plus_its_own_with_refs_resolved(fixture_stack, monkeypatch):
    monkeypatch.setenv("DEVELOPER_SHELL_ONLY", "leaks")
    token = fixture_stack.token("org_a", "u_1", scopes=["read"])
    answer = json.loads(http(fixture_stack, "GET", "/echo/x", token)[2])
    assert os.environ["DEVELOPER_SHELL_ONLY"] == "leaks"  # back for the process after the invocation
    environment = answer["environment"]
    bucket = fixture_stack.buckets["FilesBucket"]
    assert environment["SEEN_TABLE"] == fixture_stack.tables["SeenTable"]
    assert environment["GREETING"] == "hello"
    assert environment["BUCKET"] == bucket
    assert environment["QUEUE_URL"] == fixture_stack.queue_url("WorkQueue")
    assert environment["TABLE_ARN"].endswith(f":table/{fixture_stack.tables['SeenTable']}")
    assert environment["SUBSTITUTED"] == f"us-east-1/{bucket}/hello"
    assert environment["AWS_LAMBDA_FUNCTION_NAME"].endswith("EchoFunction")
    assert environment["DEVELOPER_SHELL_ONLY"] is None  # the template's variables, not the shell's
    assert answer["secret_length"] == 24  # the function read the generated secret through Secrets Manager (moto)
    assert 0 < answer["remaining_ms"] <= 10_000  # the template's Timeout


def test_body_is_a_string_for_text_and_base64_for_binary(fixture_stack):
    token = fixture_stack.token("org_a", "u_1", scopes=["write"])
    _, _, text = http(fixture_stack, "POST", "/echo", token, b'{"a": 1}', {"Content-Type": "application/json"})
    event = json.loads(text)["event"]
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    _, _, binary = http(fixture_stack, "POST", "/echo", token, b"\x00\xff", {"Content-Type": "application/octet-stream"})
    event = json.loads(binary)["event"]
    assert event["body"] == "AP8=" and event["isBase64Encoded"] is True


def test_authorizer_refuses_like_api_gateway(fixture_stack, tmp_path):
    stack = fixture_stack
    good = stack.token("org_a", "u_1", scopes=["read"])
    foreign = DevKey.load_or_create(tmp_path).mint(org="org_a", user="u_1", issuer=stack.issuer, audience=stack.audience)
    expired = stack.key.mint(org="org_a", user="u_1", issuer=stack.issuer, audience=stack.audience, now=time.time() - 7200, ttl_seconds=3600)
    wrong_audience = stack.key.mint(org="org_a", user="u_1", issuer=stack.issuer, audience="someone-else")
    wrong_issuer = stack.key.mint(org="org_a", user="u_1", issuer="https://evil.example/", audience=stack.audience)
    assert http(stack, "GET", "/echo/x", good)[0] == 200
    for token in (None, "not-a-jwt", foreign, expired, wrong_audience, wrong_issuer):
        status, headers, body = http(stack, "GET", "/echo/x", token)
        assert (status, json.loads(body)) == (401, {"message": "Unauthorized"}), token
    # A valid token without the route's scope: 403, and the function never runs.
    status, _, body = http(stack, "POST", "/echo", good, b"{}", {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    # Authorizer NONE: no token needed; a statusCode-only answer has no body.
    status, _, body = http(stack, "GET", "/open")
    assert (status, body) == (204, b"")
    assert http(stack, "GET", "/nowhere", good)[0] == 404
    assert http(stack, "POST", "/echo", stack.token("org_a", "u_1", scopes=["write"]), b"x" * (6 * 1024 * 1024 + 1),
                {"Content-Type": "text/plain"})[0] == 413
    assert http(stack, "DELETE", "/echo/x", good)[0] == 404


def test_cors_configuration_answers_preflights_and_decorates_answers(fixture_stack):
    origin = {"Origin": "http://localhost:5173"}
    status, headers, _ = http(fixture_stack, "OPTIONS", "/echo/x", None, None,
                              {**origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert status == 204  # no token needed: API Gateway answers preflights before the authorizer
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert headers["Access-Control-Allow-Headers"] == "authorization,content-type" and headers["Access-Control-Max-Age"] == "600"
    token = fixture_stack.token("org_a", "u_1", scopes=["read"])
    status, headers, _ = http(fixture_stack, "GET", "/echo/x", token, None, origin)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert headers["Access-Control-Expose-Headers"] == "x-module"
    status, headers, _ = http(fixture_stack, "GET", "/echo/x", token, None, {"Origin": "https://evil.example"})
    assert status == 200 and headers.get("Access-Control-Allow-Origin") is None


def test_a_method_no_route_takes_is_api_gateways_json_404(fixture_stack):
    # http.server answered TRACE itself: an HTML 501 that never reached the gateway.
    for method in ("TRACE", "DELETE"):
        status, headers, body = http(fixture_stack, method, "/echo/x")
        assert (status, headers["content-type"], json.loads(body)) == (404, "application/json", {"message": "Not Found"})


def test_a_client_that_hangs_up_mid_request_leaves_no_traceback(fixture_stack, capfd, caplog):
    import socket
    import struct
    import uuid

    key = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", int(fixture_stack.url.rsplit(":", 1)[1]))) as client:
        client.sendall(f"GET /nap?key={key}&peers=2&wait=1 HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        wait_for(lambda: [i for i in seen_naps(fixture_stack, key)])  # the function is running
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # hang up with a reset
    time.sleep(2)  # the nap ends and its answer meets the closed connection
    assert http(fixture_stack, "GET", "/open")[0] == 204  # and the server still answers
    _, err = capfd.readouterr()
    assert not [name for name in ("ConnectionResetError", "BrokenPipeError") if name in err], err
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


def seen_naps(stack, key: str) -> list[dict]:
    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb.endpoint, region_name="us-east-1")
    return client.query(TableName=stack.tables["SeenTable"], KeyConditionExpression="pk = :k",
                        ExpressionAttributeValues={":k": {"S": f"nap#{key}"}}, ConsistentRead=True)["Items"]


# --- SQS: partial batch failures, redrive to the DLQ ---------------------------------------------


def test_sqs_failure_goes_to_the_dlq_after_max_receives_and_success_is_deleted(fixture_stack):
    sqs = boto3.client("sqs", region_name="us-east-1")
    work, dlq = fixture_stack.queue_url("WorkQueue"), fixture_stack.queue_url("WorkDeadLetters")
    sqs.send_message_batch(QueueUrl=work, Entries=[{"Id": "1", "MessageBody": "fine"}, {"Id": "2", "MessageBody": "fail"}])

    def dead_letters():
        return sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages")

    dead = wait_for(dead_letters, timeout=20)
    assert [m["Body"] for m in dead] == ["fail"]
    deliveries = seen(fixture_stack, "worker")
    assert [d["body"] for d in deliveries].count("fine") == 1  # reported as done: deleted, never redelivered
    failed = [d for d in deliveries if d["body"] == "fail"]
    assert [d["receive_count"] for d in failed] == ["1", "2"]  # maxReceiveCount 2
    assert {d["module"] for d in deliveries} == {"worker"}  # its own helpers.py, not EchoFunction's
    assert deliveries[0]["source"].endswith(":" + work.rsplit("/", 1)[1])


# --- schedules -----------------------------------------------------------------------------------


def test_scheduled_function_runs_on_demand_with_its_schedule_event(fixture_stack):
    # Only Scheduled Events count: the fixture's one-off tick (Input {"tick": true}) may land meanwhile.
    def scheduled():
        return [e for e in seen(fixture_stack, "nightly") if e.get("detail-type")]

    before = len(scheduled())
    result = fixture_stack.scheduler.run_now("NightlyFunction")
    assert (result["ran"], result["greeting"]) == (True, "hello")
    events = scheduled()
    assert len(events) == before + 1
    event = events[-1]
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:")


def test_schedule_fires_on_time(fixture_stack):
    # TickSchedule is at(start + 10 s) with Input {"tick": true} (ScheduleV2).
    ticks = wait_for(lambda: [e for e in seen(fixture_stack, "nightly") if e.get("tick")], timeout=25)
    assert ticks == [{"tick": True}]
    assert any(name.endswith("Tick") for name, _ in fixture_stack.scheduler.fired)


# --- EventBridge -----------------------------------------------------------------------------------


def test_eventbridge_rule_routes_matching_events_to_its_function(fixture_stack):
    events = boto3.client("events", region_name="us-east-1")
    events.put_events(Entries=[
        {"Source": "fixture.orders", "DetailType": "OrderPlaced", "Detail": json.dumps({"order": "o-1"}), "EventBusName": "fixture-orders"},
        {"Source": "fixture.other", "DetailType": "OrderPlaced", "Detail": json.dumps({"order": "o-2"}), "EventBusName": "fixture-orders"},
        {"Source": "fixture.orders", "DetailType": "OrderPlaced", "Detail": json.dumps({"order": "o-3"}), "EventBusName": "default"},
    ])
    routed = wait_for(lambda: seen(fixture_stack, "router"))
    time.sleep(0.5)  # give a wrongly routed event the chance to show up
    routed = seen(fixture_stack, "router")
    assert [e["detail"]["order"] for e in routed] == ["o-1"]
    assert routed[0]["source"] == "fixture.orders" and routed[0]["detail-type"] == "OrderPlaced"


# --- DynamoDB stream ---------------------------------------------------------------------------------


def test_stream_feeds_changes_and_retries_a_poison_record_then_moves_on(fixture_stack):
    ddb = boto3.client("dynamodb", endpoint_url=fixture_stack.dynamodb.endpoint, region_name="us-east-1")
    table = fixture_stack.tables["OrdersTable"]

    def ids():
        return [r["id"] for r in seen(fixture_stack, "stream")]

    ddb.put_item(TableName=table, Item={"id": {"S": "o-1"}})
    ddb.delete_item(TableName=table, Key={"id": {"S": "o-1"}})
    wait_for(lambda: ids().count("o-1") == 2, timeout=20)
    records = seen(fixture_stack, "stream")
    assert [r["event"] for r in records if r["id"] == "o-1"] == ["INSERT", "REMOVE"]
    assert records[0]["source"] == fixture_stack.intrinsics.get_att("OrdersTable", "StreamArn")

    # A record that always fails: tried once, retried MaximumRetryAttempts (2) times, then skipped.
    ddb.put_item(TableName=table, Item={"id": {"S": "o-poison"}, "poison": {"BOOL": True}})
    wait_for(lambda: ids().count("o-poison") == 3, timeout=20)
    ddb.put_item(TableName=table, Item={"id": {"S": "o-2"}})
    wait_for(lambda: "o-2" in ids(), timeout=20)
    time.sleep(0.5)
    assert ids().count("o-poison") == 3 and ids().count("o-2") == 1


def _strict_batches(stack) -> list[dict]:
    return seen(stack, "strict")


def test_stream_bisects_a_failing_batch_and_sends_the_failing_record_to_the_on_failure_queue(fixture_stack):
    # StrictFunction: no partial failures, BisectBatchOnFunctionError, MaximumRetryAttempts 1, on-failure queue.
    ddb = boto3.client("dynamodb", endpoint_url=fixture_stack.dynamodb.endpoint, region_name="us-east-1")
    table = fixture_stack.tables["OrdersTable"]
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in (
        {"id": {"S": "b-1"}}, {"id": {"S": "b-2"}}, {"id": {"S": "b-bad"}, "explode": {"BOOL": True}}, {"id": {"S": "b-3"}}, {"id": {"S": "b-4"}})]})

    def delivered(order_id):
        return [batch["ids"] for batch in _strict_batches(fixture_stack) if order_id in batch["ids"]]

    wait_for(lambda: all(any("b-bad" not in ids for ids in delivered(o)) for o in ("b-1", "b-2", "b-3", "b-4")), timeout=30)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = fixture_stack.queue_url("OrderFailures")
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"), timeout=20)
    (failure,) = [json.loads(m["Body"]) for m in messages]
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"] == fixture_stack.intrinsics.get_att("OrdersTable", "StreamArn")
    assert failure["requestContext"]["functionArn"] == fixture_stack.runtime.find("StrictFunction").arn
    # The failing record alone: tried once and retried once; every other order went through in a batch without it.
    assert delivered("b-bad").count(["b-bad"]) == 2
    for order in ("b-1", "b-2", "b-3", "b-4"):
        assert sum(1 for ids in delivered(order) if "b-bad" not in ids) == 1, order


def test_time_to_live_deletes_expired_items_with_the_service_identity_on_their_remove_records(fixture_stack):
    ddb = boto3.client("dynamodb", endpoint_url=fixture_stack.dynamodb.endpoint, region_name="us-east-1")
    table = fixture_stack.tables["OrdersTable"]
    now = int(time.time())
    ddb.put_item(TableName=table, Item={"id": {"S": "t-expired"}, "expires": {"N": str(now - 5)}, "blob": {"B": b"\x00\xff"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "t-later"}, "expires": {"N": str(now + 3600)}})
    ddb.put_item(TableName=table, Item={"id": {"S": "t-deleted"}})
    ddb.delete_item(TableName=table, Key={"id": {"S": "t-deleted"}})

    def record_of(order_id, event):
        for batch in _strict_batches(fixture_stack):
            for index, (ids, name) in enumerate(zip(batch["ids"], batch["events"])):
                if ids == order_id and name == event:
                    return batch["identities"][index], batch["images"][index]
        return None

    expired = wait_for(lambda: record_of("t-expired", "REMOVE"), timeout=20)
    assert expired[0] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert expired[1]["blob"] == {"B": "AP8="}  # binary values arrive in base64, as Lambda sends them
    assert wait_for(lambda: record_of("t-deleted", "REMOVE"))[0] is None  # a delete by a caller carries no identity
    assert "Item" in ddb.get_item(TableName=table, Key={"id": {"S": "t-later"}})
    assert record_of("t-later", "REMOVE") is None


# --- Step Functions, Lambda Invoke, SES ----------------------------------------------------------------


def test_state_machine_task_invokes_the_function_in_process_and_mail_lands_in_the_outbox(fixture_stack):
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = fixture_stack.state_machines["ShoutMachine"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"text": "cheers", "to": "member@example.com"}))["executionArn"]
    done = wait_for(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(sfn.describe_execution(executionArn=execution)), timeout=20)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"shouted": "CHEERS", "echo_url": f"{fixture_stack.url}/_local/url/EchoFunction/"}
    status, _, listing = http(fixture_stack, "GET", "/_local/outbox")
    mail = [m for m in json.loads(listing)["messages"] if m["subject"] == "Shouted: CHEERS"]
    assert len(mail) == 1 and mail[0]["to"] == "member@example.com" and mail[0]["from"] == "exports@fixture.test"
    assert "louder: CHEERS" in open(mail[0]["path"]).read()
    # The emailed S3 link has a local twin that downloads the object.
    (link,) = mail[0]["links"]
    assert link["url"].startswith(f"https://{fixture_stack.buckets['FilesBucket']}.s3.amazonaws.com/exports/cheers.txt?")
    assert http(fixture_stack, "GET", link["local"][len(fixture_stack.url):])[::2] == (200, b"CHEERS")
    assert http(fixture_stack, "GET", "/_local/s3/nope/x")[0] == 404


def test_function_url_serves_payload_v2_without_the_api_authorizer(fixture_stack):
    status, _, body = http(fixture_stack, "POST", "/_local/url/EchoFunction/hooks/stripe?x=1", None, b'{"id": "evt_1"}',
                           {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=abc"})
    assert status == 200
    event = json.loads(body)["event"]
    assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == ("$default", "/hooks/stripe", "x=1")
    assert event["body"] == '{"id": "evt_1"}' and event["headers"]["stripe-signature"] == "t=1,v1=abc"
    assert "authorizer" not in event["requestContext"]
    assert http(fixture_stack, "GET", "/_local/url/WorkerFunction/")[0] == 404  # no FunctionUrlConfig


def test_lambda_invoke_from_code_runs_the_named_function(fixture_stack):
    client = boto3.client("lambda", region_name="us-east-1")
    answer = client.invoke(FunctionName=fixture_stack.runtime.find("NightlyFunction").name, Payload=b'{"manual": true}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["greeting"] == "hello"
    broken = client.invoke(FunctionName="ShoutFunction", Payload=b'"not an object"')
    assert broken["FunctionError"] == "Unhandled"
    assert json.loads(broken["Payload"].read())["errorType"] == "AttributeError"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")


def test_each_function_has_its_own_copy_of_layer_and_sibling_modules(fixture_stack):
    token = fixture_stack.token("org_a", "u_1", scopes=["read"])
    nightly = [fixture_stack.runtime.invoke("NightlyFunction", {})["invocations"] for _ in range(2)]
    echo = [json.loads(http(fixture_stack, "GET", "/echo/x", token)[2])["invocations"] for _ in range(3)]
    assert nightly[1] == nightly[0] + 1 and echo[2] == echo[0] + 2  # warm: module state lives on between invocations
    # ... but per function, as in Lambda's separate processes: Echo's calls did not move Nightly's counter.
    assert fixture_stack.runtime.invoke("NightlyFunction", {})["invocations"] == nightly[1] + 1
    import sys

    assert "fixturelayer" not in sys.modules and "helpers" not in sys.modules  # nothing leaks into the host process
