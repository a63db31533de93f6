"""Issue 18 item 5: one entry's proof, checkable offline.

``activitylog prove`` and ``GET /support/activities/{id}/proof`` over a real archive (entries
through the service on DynamoDB Local, the archive function, S3 with Object Lock in moto, the
hourly digests and their checkpoints), then the README's script, run as a third party would:
a fresh interpreter that imports nothing of this project, Python and ``cryptography`` only.
"""

from __future__ import annotations

import ast
import json
import random
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from activitylog.archive import layout
from activitylog.inputs import EntryUpdate, NewEntry
from tests.support.kit import LambdaContext

from .api_events import api_event, claims, handler_module
from tests.support.digests import ARCHIVE, DIGESTS, WRITER, cli, other_signer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "check_proof.py"
OURS = ("activitylog", "activitylog_local", "samlocal", "tests", "functions")


def job_with_two_versions(world) -> str:
    started = world.service.record(WRITER, NewEntry.model_validate({
        "type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "actor": {"kind": "system", "id": "system", "name": "system"},
        "action": "synced", "event": "SYNC_SQUARE_STOCK", "entity": {"type": "job", "id": "job_1", "label": "Sync"}}))
    world.service.update(WRITER, started.id, EntryUpdate.model_validate({"status": "FAILED", "error": {"message": "Square said 503"}}))
    return started.id


@pytest.fixture
def proved(world, tmp_path, support_reads):
    """An entry with two archived versions among others, digested over two runs; its bundle from the CLI."""
    world.hour(world.record(3, hours_ago=2))
    entry_id = job_with_two_versions(world)
    world.record(2, hours_ago=0.5)
    world.hour([])
    bundle = tmp_path / "bundle.json"
    code, out = cli("prove", entry_id, "--org", "org_a", "--archive-bucket", ARCHIVE, "--digest-bucket", DIGESTS,
                    "--public-key", str(world.signer.path), "--out", str(bundle), "--reason", "ticket 4312")
    assert code == 0, out
    assert support_reads == [("GET", f"/support/activities/{entry_id}/proof?reason=ticket+4312", None)]  # first
    return entry_id, bundle


def third_party(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The script copied out of the repository, run isolated (-I: no PYTHONPATH, no user site, not the
    repository's folder); it reports which modules it loaded, and none may be ours."""
    script = tmp_path / "elsewhere" / "check_proof.py"
    script.parent.mkdir(exist_ok=True)
    shutil.copy(SCRIPT, script)
    driver = ("import runpy, sys\n"
              f"sys.argv = [{str(script)!r}, *{list(args)!r}]\n"
              "try:\n"
              f"    runpy.run_path({str(script)!r}, run_name='__main__')\n"
              "    code = 0\n"
              "except SystemExit as exit:\n"
              "    code = exit.code\n"
              f"ours = sorted(m for m in sys.modules if m.split('.')[0] in {OURS!r})\n"
              "print('LOADED-OURS', ours)\n"
              "sys.exit(code)\n")
    return subprocess.run([sys.executable, "-I", "-c", driver], cwd=script.parent, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, timeout=60)


def test_prove_gives_a_bundle_the_readmes_script_checks_offline(world, proved, tmp_path):
    entry_id, bundle = proved
    document = json.loads(bundle.read_bytes())
    assert document["id"] == entry_id and len(document["versions"]) == 2
    assert document["checkpoint"]["tree_size"] == 7  # 3 entries, then the job's 2 versions and 2 entries

    ran = third_party(tmp_path, str(bundle))

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.startswith(f"OK: 2 versions of entry {entry_id} (org org_a) are in the tree of 7")
    assert "LOADED-OURS []" in ran.stdout
    # Pinned to the deployment's key it passes; pinned to another it refuses.
    from cryptography.hazmat.primitives import serialization

    for signer, code in ((world.signer, 0), (other_signer(tmp_path), 1)):
        pem = tmp_path / f"{signer.key_id}.pub.pem"
        key = serialization.load_der_public_key(signer.public_key())
        pem.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        assert third_party(tmp_path, str(bundle), "--public-key", str(pem)).returncode == code


def test_the_script_refuses_the_bundle_after_any_byte_of_it_changes(proved, tmp_path):
    _, bundle = proved
    raw = bundle.read_bytes()
    check = runpy.run_path(str(SCRIPT))["check"]  # the script's own function, in this process for speed
    assert check(raw).startswith("OK")
    generator = random.Random(18)
    accepted = []
    for position in range(len(raw)):
        for changed in {raw[position] ^ 0x01, raw[position] ^ 0x20, generator.randrange(0x20, 0x7f)} - {raw[position]}:
            tampered = raw[:position] + bytes([changed]) + raw[position + 1:]
            try:
                check(tampered)
            except Exception:  # noqa: BLE001 - refused: any error is a refusal (main() says REFUSED)
                continue
            accepted.append((position, chr(changed)))
    assert accepted == []
    # Added or removed bytes too, and as the command runs it: exit 1, REFUSED.
    for tampered in (raw + b"\n", raw[:-1], b" " + raw):
        with pytest.raises(Exception):
            check(tampered)
    bad = tmp_path / "bad.json"
    bad.write_bytes(raw.replace(b"Square said 503", b"Square said 200"))
    assert bad.read_bytes() != raw
    ran = third_party(tmp_path, str(bad))
    assert ran.returncode == 1 and ran.stdout.startswith("REFUSED: Refused: version"), ran.stdout


def test_the_readme_shows_the_script_verbatim():
    readme = (ROOT / "README.md").read_text()
    (shown,) = re.findall(r"<!-- check_proof.py: begin -->\n```python\n(.*?)```\n<!-- check_proof.py: end -->", readme, re.S)
    assert shown == SCRIPT.read_text()
    tree = ast.parse(shown)
    imports = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imports |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports == {"base64", "hashlib", "json", "re", "sys", "cryptography"}


def proof_answer(entry_id: str, scope: str = "activity:support", reason: str | None = "ticket 4312") -> dict:
    event = api_event("GET", f"/support/activities/{entry_id}/proof", query={"reason": reason} if reason is not None else None,
                      claims=claims(org="org_a", sub="u_support", scope=scope))
    return handler_module("GET", f"/support/activities/{entry_id}/proof").lambda_handler(event, LambdaContext())


@pytest.fixture
def support_environment(world, monkeypatch, tmp_path):
    """The support function's environment as template.yaml gives it; the local stack's key folder stands in for KMS."""
    from activitylog import wiring

    kms = tmp_path / "kms"
    kms.mkdir()
    shutil.copy(world.signer.path, kms / "test-key.pem")
    for name, value in {"DIGEST_BUCKET": DIGESTS, "DIGEST_SIGNING_KEY": "test-key", "ACTIVITYLOG_LOCAL_KMS_DIR": str(kms)}.items():
        monkeypatch.setenv(name, value)

    def fresh():
        wiring.reset()

    fresh()
    yield
    fresh()


def test_get_support_proof_answers_the_same_bundle_to_support_only(world, proved, support_environment, tmp_path):
    entry_id, bundle = proved

    answer = proof_answer(entry_id)

    assert answer["statusCode"] == 200, answer
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["body"].encode() == bundle.read_bytes()
    assert proof_answer(entry_id, scope="activity:read")["statusCode"] == 403
    assert proof_answer("01" + "0" * 24)["statusCode"] == 404
    assert proof_answer("7" + "Z" * 25)["statusCode"] == 404  # a valid id past year 9999
    assert proof_answer("not-an-id")["statusCode"] == 400
    # Archived since the newest checkpoint: no proof yet, and the answer says why.
    pending = job_with_two_versions(world)
    world.archive_new()
    answer = proof_answer(pending)
    assert answer["statusCode"] == 409 and "next digest" in json.loads(answer["body"])["message"]
    assert layout.checkpoint_prefix("org_a") == "checkpoints/org=org_a/"


def test_a_support_proof_needs_a_reason_and_is_recorded_in_the_orgs_log_before_it_is_answered(world, proved, support_environment):
    from activitylog.query.filters import parse_list_request
    from activitylog.service import Caller

    entry_id, _ = proved
    reader = Caller("org_a", "u_reader", frozenset({"activity:read"}))

    def records() -> list:
        listed = world.service.list(reader, parse_list_request({"type": "SYSTEM_EVENT"})).items
        return [e for e in listed if (e.get("entity") or {}).get("type") == "entry"]

    refused = proof_answer(entry_id, reason=None)
    assert (refused["statusCode"], json.loads(refused["body"])["field"]) == (400, "reason"), refused
    assert records() == []

    assert proof_answer(entry_id, reason="ticket 4312")["statusCode"] == 200
    (record,) = records()
    assert record["event"] == f"Support fetched the proof of entry {entry_id} · reason: ticket 4312"
    assert record["actor"]["id"] == "u_support" and record["entity"]["id"] == entry_id
