"""The issue's "Done when", through the served stack (``activitylog serve``, as ``make dev`` runs it):

an entry created, updated and then expired is still found by ``GET /support/activities/{id}``
and ``activitylog archive query``, and ``activitylog verify`` passes, then fails naming the
record once one archived line is edited by hand.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from tests.support.stack import HOT_TABLE_DAYS, wait_for

pytestmark = pytest.mark.e2e

ORG = "org_e2e_archive"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def test_an_entry_created_updated_and_expired_is_found_and_verified_then_an_edit_is_named(api_stack):
    admin = api_stack.token(ORG, "u_admin", name="Morgan Admin", scopes=("admin",))
    writer = api_stack.token(ORG, "svc_jobs", scopes=("write",))
    support = api_stack.token(ORG, "u_support", scopes=("support",))
    # The org keeps entries hot for 90 days; a job that started 90 days ago less 15 s expires in 15 s.
    status, policy = api_stack.request("PUT", "/settings/retention", admin, body={"hot_days": 90})
    assert status == 200 and policy["hot_days"] == 90, policy
    started_at = datetime.now(timezone.utc) - timedelta(days=90) + timedelta(seconds=15)
    status, created = api_stack.request("POST", "/activities", writer, body={
        "type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "action": "synced", "event": "SYNC_SQUARE_STOCK",
        "actor": {"kind": "system", "id": "system", "name": "system"}, "occurred_at": started_at.isoformat(),
        "entity": {"type": "job", "id": "job_e2e", "label": "Square stock sync"}, "metadata": {"processed": 0}})
    assert status == 201, created
    entry_id = created["id"]
    status, updated = api_stack.request("PATCH", f"/activities/{entry_id}", writer,
                                        body={"status": "FAILED", "error": {"message": "Square answered 503"}, "metadata": {"processed": 12}})
    assert status == 200, updated

    # Expired: gone from the API, then removed from the table by TTL and archived as such.
    wait_for(lambda: api_stack.request("GET", f"/activities/{entry_id}", writer)[0] == 404, timeout=60)
    found = wait_for(lambda: (lambda s, b: b if s == 200 and b.get("expired_at") else None)(
        *api_stack.request("GET", f"/support/activities/{entry_id}?reason=ticket%204312", support)), timeout=60)
    assert (found["found_in"], found["status"], found["versions"]) == ("archive", "FAILED", 3)
    assert found["error"] == {"message": "Square answered 503"} and found["metadata"] == {"processed": 12}
    assert api_stack.request("GET", f"/support/activities/{entry_id}", writer)[0] == 403
    # The org sees that support read it, and why, in its own log (the page's request); without a reason, no read.
    status, listed = api_stack.request("GET", "/activities?type=SYSTEM_EVENT", api_stack.token(ORG, "u_reader", scopes=("read",)))
    assert status == 200 and any(i["event"] == f"Support viewed entry {entry_id} · reason: ticket 4312"
                                 and i["actor"]["id"] == "u_support" for i in listed["items"]), listed
    assert api_stack.request("GET", f"/support/activities/{entry_id}", support)[1]["field"] == "reason"

    # The hourly digest, run now (again until it has the expiry, whose manifest is written just after its
    # line): the archive query answers only what a digest signed.
    window = ("--from", iso(started_at - timedelta(hours=1)), "--to", iso(started_at + timedelta(hours=1)))

    def digested():
        ran = api_stack.cli("run", "DigestFunction", "--event", json.dumps({"until": iso(datetime.now(timezone.utc))}))
        assert ran.returncode == 0, ran.stderr
        rows = [json.loads(line) for line in api_stack.cli("archive", "query", "--org", ORG, *window, "--reason", "ticket 4312", "--json").stdout.splitlines()]
        return rows if rows and rows[0]["expired_at"] else None

    wait_for(digested, timeout=60)
    queried = api_stack.cli("archive", "query", "--org", ORG, *window, "--reason", "ticket 4312", "--type", "BACKGROUND_JOB", "--status", "FAILED")
    assert queried.returncode == 0, queried.stderr
    assert entry_id in queried.stdout and "[expired" in queried.stdout and "1 entries in the running stack's" in queried.stdout
    as_json = [json.loads(line) for line in api_stack.cli("archive", "query", "--org", ORG, *window, "--reason", "ticket 4312", "--json").stdout.splitlines()]
    assert [row["id"] for row in as_json] == [entry_id] and as_json[0]["expired_at"] == found["expired_at"]

    # verify passes.
    verified = api_stack.cli("verify", "--org", ORG, *window)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK: every archived version is the one its digest signed" in verified.stdout
    assert "3 archived versions" in verified.stdout

    # Its proof, from the command line and from the API, passes the README's offline script.
    bundle = api_stack.data_dir / "proof.json"
    proved = api_stack.cli("prove", entry_id, "--org", ORG, "--out", str(bundle), "--reason", "ticket 4313")
    assert proved.returncode == 0, proved.stdout + proved.stderr
    # The command recorded the read in the org's log first (through the API's proof route), with its reason
    status, listed = api_stack.request("GET", "/activities?type=SYSTEM_EVENT", api_stack.token(ORG, "u_reader", scopes=("read",)))
    assert any(i["event"] == f"Support fetched the proof of entry {entry_id} · reason: ticket 4313" for i in listed["items"]), listed
    script = Path(__file__).resolve().parents[2] / "docs" / "check_proof.py"
    checked = subprocess.run([sys.executable, "-I", str(script), str(bundle)], capture_output=True, text=True, cwd="/", timeout=60)
    assert checked.returncode == 0 and checked.stdout.startswith(f"OK: 3 versions of entry {entry_id}"), checked.stdout + checked.stderr
    status, served = api_stack.request("GET", f"/support/activities/{entry_id}/proof?reason=ticket%204312", support)
    assert status == 200 and served == json.loads(bundle.read_bytes()), served

    # One archived line edited by hand: verify fails and names the record.
    state = json.loads((api_stack.data_dir / "stack.json").read_text())
    s3 = boto3.client("s3", endpoint_url=state["aws_endpoint"], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    bucket = state["buckets"]["ArchiveBucket"]
    objects = {o["Key"]: gzip.decompress(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()).decode()
               for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"archive/org={ORG}/")["Contents"]}
    key, text = next((key, text) for key, text in sorted(objects.items()) if "Square answered 503" in text)
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.replace("Square answered 503", "Square answered 200", 1).encode()))

    failed = api_stack.cli("verify", "--org", ORG, *window)
    assert failed.returncode == 1, failed.stdout
    (altered,) = [line for line in failed.stdout.splitlines() if line.strip().startswith("ALTERED")]
    assert entry_id in altered and key in altered
    assert failed.stdout.rstrip().endswith("FAILED: 1 problems")


def test_the_compact_function_is_scheduled_and_runs_on_demand_into_the_warm_bucket(api_stack):
    from activitylog.archive import layout
    from activitylog.archive.lines import INSERT, version_line
    from activitylog.archive.store import ArchiveStore
    from activitylog.entry import Entry, EntryType, Status
    from activitylog.ids import new_id
    from activitylog.warm import compact

    org = "org_e2e_warm"
    state = json.loads((api_stack.data_dir / "stack.json").read_text())
    s3 = boto3.client("s3", endpoint_url=state["aws_endpoint"], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    assert "WarmBucket" in state["buckets"], state["buckets"]
    _, stack = api_stack.request("GET", "/_local/stack")
    assert [s for s in stack["schedules"] if s["function"] == "CompactFunction"], stack["schedules"]
    # Versions as the archive writer lays them: two that left the table (HotTableDays + 10 and + 5 days old), one 3 days old.
    archive, now, made = ArchiveStore(state["buckets"]["ArchiveBucket"], s3), datetime.now(timezone.utc), []
    for number, days in enumerate((HOT_TABLE_DAYS + 10, HOT_TABLE_DAYS + 5, 3)):
        moment = now - timedelta(days=days)
        made.append(Entry(new_id(moment), EntryType.USER_ACTION, Status.SUCCESS, {"kind": "user", "id": "u_1", "name": "Ana"},
                          "updated", "Contact updated", {"type": "contact", "id": "c_1", "label": "Alex"}))
        line = version_line(org, made[-1], f"{900 + number:021d}", INSERT, moment)
        archive.put_lines(layout.data_key(org, made[-1].id, line.sequence), [line], "2555d")

    ran = api_stack.cli("run", "CompactFunction")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["result"]["through"] == compact.compactable_through(now, HOT_TABLE_DAYS).isoformat(), ran.stdout
    manifest = json.loads(s3.get_object(Bucket=state["buckets"]["WarmBucket"], Key=compact.manifest_key(org))["Body"].read())
    (file,) = manifest["files"]
    assert (manifest["through"], file["min_id"], file["max_id"], file["rows"]) == (
        compact.compactable_through(now, HOT_TABLE_DAYS).isoformat(), made[0].id, made[1].id, 2)
