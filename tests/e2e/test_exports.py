"""CSV exports through the local stack: template.yaml's ExportStateMachine run by moto's interpreter on
infra/statemachines/export.asl.json, its worker in execution environments, SES into the outbox, over HTTP.

The stack runs in this process (``LocalStack``, as ``activitylog serve`` runs it) so that a test can
make S3 refuse what AWS refuses: moto's minimum part size is lowered for the module (parts of
4 KiB), and restored to S3's 5 MiB for the failure path.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import random
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from activitylog.exports import links
from activitylog.exports.csvfile import COLUMNS
from activitylog.signing import StaticKey
from activitylog_local import generator
from tests.support.kit import HttpClient
from tests.support.stack import wait_for

ORG, OTHER_ORG = "org_exports", "org_elsewhere"
SEEDED = 80
THRESHOLD = 20
S3_MINIMUM_PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def stack(dynamodb_local, tmp_path_factory):
    """template.yaml's stack: exports over 20 rows run in the background, in parts of 4 KiB, one part per step."""
    from samlocal.stack import LocalStack, StackOptions

    options = StackOptions(data_dir=tmp_path_factory.mktemp("exports"), port=0, in_memory=True,
                           dynamodb_endpoint=dynamodb_local.endpoint, stack_name=f"ex{uuid.uuid4().hex[:6]}",
                           parameters={"ExportInlineRows": str(THRESHOLD), "ExportPartBytes": "4096", "ExportPartsPerStep": "1"},
                           poll_seconds=0.1)
    with pytest.MonkeyPatch.context() as patch, LocalStack(options) as running:
        patch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1024)
        writer = running.token(ORG, "svc_seed", scopes=("write",))
        rng, now = random.Random(11), datetime.now(timezone.utc)
        documents = [generator.document(rng, now - timedelta(hours=5) + timedelta(minutes=3 * n))[0] for n in range(SEEDED)]
        for start in range(0, SEEDED, 50):
            status, answer = HttpClient(running.url).request("POST", "/activities/batch", {"entries": documents[start:start + 50]},
                                                             token=writer)
            assert status == 200, answer
        yield running


def reader(stack, org: str = ORG, user: str = "u_01") -> str:
    return stack.token(org, user, "Riley Park", scopes=("read",), email=f"{user}@{org}.example")


def call(stack, method: str, path: str, body=None, token=None):
    return HttpClient(stack.url).request(method, path, body, token=token or reader(stack))


def window() -> dict:
    return {"from": (datetime.now(timezone.utc) - timedelta(hours=6)).isoformat()}


def list_all(stack, **query) -> list[dict]:
    items, cursor = [], None
    while True:
        params = "&".join(f"{k}={v}" for k, v in {**query, "limit": 25, **({"cursor": cursor} if cursor else {})}.items())
        status, page = call(stack, "GET", f"/activities?{params.replace('+', '%2B')}")
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def rows_of(text: str) -> list[dict]:
    reader_ = csv.reader(io.StringIO(text, newline=""))
    assert next(reader_) == list(COLUMNS)
    return [dict(zip(COLUMNS, cells, strict=True)) for cells in reader_]


def finished(stack, export_id: str, timeout: float = 90) -> dict:
    def done():
        status, export = call(stack, "GET", f"/exports/{export_id}")
        assert status == 200, export
        return export if export["status"] != "IN_PROGRESS" else None
    return wait_for(done, timeout=timeout, interval=0.2)


def mail_to(stack, address: str) -> list[dict]:
    status, outbox = HttpClient(stack.url).request("GET", "/_local/outbox")
    assert status == 200
    return [message for message in outbox["messages"] if message["to"] == address]


def mail_text(message: dict) -> str:
    import email
    from email import policy

    with open(message["path"], "rb") as handle:
        return email.message_from_bytes(handle.read(), policy=policy.default).get_content()


def versions_of(stack, dynamodb_local, entry_id: str) -> list[dict]:
    """Every version of an entry's item, oldest first, from the table's stream (NEW_AND_OLD_IMAGES)."""
    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1")
    arn = stack.intrinsics.get_att("ActivityTable", "StreamArn")
    versions = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in answer["Records"]:
                image = record["dynamodb"].get("NewImage") or {}
                if image.get("sk", {}).get("S") == entry_id:
                    detail = json.loads(zlib.decompress(image["bd"]["B"]))
                    versions.append({**detail, "status": image["st"]["S"], "stream_order": int(record["dynamodb"]["SequenceNumber"])})
            iterator = answer.get("NextShardIterator") if answer["Records"] else None
    return sorted(versions, key=lambda v: v["stream_order"])


def execution_of(stack, export_id: str) -> dict:
    """The export's state machine execution (named by the export), once it has ended."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")

    def ended():
        (execution,) = [e for e in sfn.list_executions(stateMachineArn=stack.state_machines["ExportStateMachine"])["executions"]
                        if e["name"] == export_id]
        return execution if execution["status"] != "RUNNING" else None
    return wait_for(ended, timeout=60, interval=0.2)


@pytest.fixture(scope="module")
def large(stack):
    """One large export of the seeded window, run to its end by the state machine."""
    filters = window()
    status, export = call(stack, "POST", "/exports", {"filters": filters})
    assert status == 202, export
    final = finished(stack, export["export_id"])
    return {"filters": filters, "accepted": export, "final": final, "execution": execution_of(stack, export["export_id"])}


def test_a_large_export_runs_as_a_state_machine_execution_in_several_steps_and_parts(stack, large):
    export_id = large["accepted"]["export_id"]
    assert (large["accepted"]["status"], large["accepted"]["rows"]) == ("IN_PROGRESS", 0)
    final = large["final"]
    assert (final["status"], final["rows"], final["delivery"]) == ("SUCCESS", SEEDED, "email"), final
    assert final["parts"] >= 2

    execution = large["execution"]
    assert execution["status"] == "SUCCEEDED"
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered[0] == "Begin" and entered.count("WriteParts") >= 3 and entered[-2:] == ["Complete", "EmailLink"]
    # The state between steps is a position and counters, never rows
    for event in history:
        output = (event.get("stateExitedEventDetails") or {}).get("output")
        if output and (event["stateExitedEventDetails"]["name"] == "WriteParts"):
            state = json.loads(output)
            assert set(state) == {"export_id", "org", "notify", "upload_id", "cursor", "parts", "rows", "bytes", "done"}


def test_the_emailed_link_downloads_from_the_local_server_a_csv_of_the_lists_rows(stack, large):
    export_id = large["accepted"]["export_id"]
    (message,) = [m for m in mail_to(stack, f"u_01@{ORG}.example") if export_id in mail_text(m)]
    assert message["subject"] == f"Your activity log export is ready ({SEEDED} rows)"
    link = next(word for word in mail_text(message).split() if "/download?token=" in word)
    assert link.startswith(f"{stack.url}/exports/{export_id}/download?token=")
    assert link in [listed["url"] for listed in message["links"]]  # /_local/outbox lists it decoded, ready to open

    # The link redirects (no bearer token: the link's own) to the file, served by the local server
    target = urlparse(link)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    connection.request("GET", f"{target.path}?{target.query}")
    redirect = connection.getresponse()
    assert redirect.status == 302 and redirect.getheader("location").startswith(f"{stack.url}/_local/s3/")
    status, headers, data = HttpClient(stack.url).send("GET", f"{target.path}?{target.query}")  # followed
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert hashlib.sha256(data).hexdigest() == large["final"]["sha256"] and len(data) == large["final"]["bytes"]

    rows = rows_of(data.decode("utf-8"))
    items = [i for i in list_all(stack, **large["filters"]) if i["id"] != export_id]
    assert [r["id"] for r in rows] == [i["id"] for i in items] and len(rows) == SEEDED
    for row, item in zip(rows, items, strict=True):
        assert (row["time"], row["type"], row["status"], row["event"], row["actor_id"]) == \
            (item["occurred_at"], item["type"], item["status"], item["event"], item["actor"]["id"])
    for row in rows[:10]:
        status, detail = call(stack, "GET", f"/activities/{row['id']}")
        assert row["changed_fields"] == (json.dumps(list(detail["changes"]), ensure_ascii=False) if detail["changes"] else "")
        assert row["error_message"] == ((detail["reason"] or {}).get("message") or (detail["error"] or {}).get("message") or "")
        assert row["correlation_id"] == (detail["correlation_id"] or "")


def test_the_exports_own_entry_goes_in_progress_with_rows_so_far_then_success(stack, large, dynamodb_local):
    export_id = large["accepted"]["export_id"]
    versions = versions_of(stack, dynamodb_local, export_id)

    statuses = [v["status"] for v in versions]
    assert statuses[0] == "IN_PROGRESS" and statuses[-1] == "SUCCESS" and set(statuses) == {"IN_PROGRESS", "SUCCESS"}
    assert statuses == sorted(statuses, key=["IN_PROGRESS", "SUCCESS"].index)  # never back
    progress = [v["metadata"]["rows"] for v in versions if v["status"] == "IN_PROGRESS"]
    assert progress[0] == 0 and progress == sorted(progress) and progress[-1] == SEEDED
    assert any(0 < rows < SEEDED for rows in progress)  # rows so far, part by part
    last = versions[-1]["metadata"]
    assert (last["rows"], last["requester"]["id"], last["filters"]) == (SEEDED, "u_01", {"from": large["filters"]["from"]})
    status, entry = call(stack, "GET", f"/activities/{export_id}")
    assert (entry["type"], entry["event"], entry["status"]) == ("BACKGROUND_JOB", "EXPORT_ACTIVITY_LOG", "SUCCESS")


def test_another_orgs_token_is_a_404_for_the_status_and_the_download(stack, large):
    export_id = large["accepted"]["export_id"]
    assert call(stack, "GET", f"/exports/{export_id}", token=reader(stack, OTHER_ORG))[0] == 404
    # A link signed with the stack's own key, for this export but another org, opens nothing
    secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
        SecretId=stack.intrinsics.ref("ExportLinkSecret"))["SecretString"]
    key = StaticKey(secret.encode())
    foreign = links.mint(key, export_id, OTHER_ORG, "u_01", 600)
    assert HttpClient(stack.url).send("GET", f"/exports/{export_id}/download?token={foreign}")[0] == 404
    own = links.mint(key, export_id, ORG, "u_01", 600)
    assert HttpClient(stack.url).send("GET", f"/exports/{export_id}/download?token={own}")[0] == 200


def test_a_small_export_over_http_is_the_csv_of_the_lists_rows(stack):
    filters = {"status": ["WARNING", "FAILED"], **window()}
    items = list_all(stack, status="WARNING,FAILED", **window())
    assert 0 < len(items) <= THRESHOLD

    status, headers, data = HttpClient(stack.url).send("POST", "/exports", json.dumps({"filters": filters}).encode(),
                                                       {"content-type": "application/json"}, token=reader(stack))

    assert status == 200 and headers["content-type"] == "text/csv; charset=utf-8"
    assert [r["id"] for r in rows_of(data.decode("utf-8"))] == [i["id"] for i in items]


def test_a_failure_anywhere_is_recorded_failed_and_mailed(stack):
    # S3 refuses parts under 5 MiB but the last: completing a 4 KiB-part upload fails, as it would in AWS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", S3_MINIMUM_PART)
        token = reader(stack, user="u_02")
        status, export = call(stack, "POST", "/exports", {"filters": window()}, token=token)
        assert status == 202, export
        execution_of(stack, export["export_id"])  # to its end: the failure mailed
    status, failed = call(stack, "GET", f"/exports/{export['export_id']}", token=token)

    assert failed["status"] == "FAILED" and "EntityTooSmall" in failed["error"] and failed["download_url"] is None
    (message,) = mail_to(stack, f"u_02@{ORG}.example")
    assert message["subject"] == "Your activity log export failed"
    text = mail_text(message)
    assert "EntityTooSmall" in text and export["export_id"] in text and "/download" not in text
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.list_multipart_uploads(Bucket=stack.buckets["ExportBucket"]).get("Uploads", []) == []
    assert execution_of(stack, export["export_id"])["status"] == "FAILED"


def test_a_completion_whose_answer_is_lost_still_ends_in_the_file_its_link_and_success(stack):
    # S3 completes the upload, then answers an error (a transient InternalError): every retry of Complete
    # finds the upload gone (NoSuchUpload) while the whole file is in the bucket
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    real, lost = S3Backend.complete_multipart_upload, []

    def complete_then_drop(self, *args, **kwargs):
        answer = real(self, *args, **kwargs)
        if not lost:
            lost.append(True)
            raise S3ClientError("InternalError", "We encountered an internal error. Please try again.")
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3Backend, "complete_multipart_upload", complete_then_drop)
        token = reader(stack, user="u_03")
        status, export = call(stack, "POST", "/exports", {"filters": window()}, token=token)
        assert status == 202, export
        execution = execution_of(stack, export["export_id"])
    assert lost and execution["status"] == "SUCCEEDED"

    status, done = call(stack, "GET", f"/exports/{export['export_id']}", token=token)
    assert done["status"] == "SUCCESS" and done["download_url"] and done["error"] is None
    (message,) = mail_to(stack, f"u_03@{ORG}.example")
    assert message["subject"].startswith("Your activity log export is ready")
    body = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=stack.buckets["ExportBucket"], Key=f"exports/{ORG}/{export['export_id']}.csv")["Body"].read()
    assert done["sha256"] == hashlib.sha256(body).hexdigest() and done["bytes"] == len(body)
