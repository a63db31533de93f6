"""Issue 24 items 2 and 3: erasure by crypto-shredding, and the proof stays valid.

A data subject's personal fields are stored sealed under the subject's own key (the subject keys table in
DynamoDB Local, the data keys from moto's KMS under the service key); ``POST /privacy/erasures`` destroys the key.
Every copy (the table, the warm tier, the archive, an export, a stream's delivery) then shows ``[erased]`` in
those fields and nothing else; nothing stored changes, so ``verify`` and an inclusion proof still pass.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from activitylog import store
from activitylog.archive import lookup
from activitylog.archive.store import S3Objects
from activitylog.config import Settings
from activitylog.details import DetailStore, unpack
from activitylog.inputs import ErasureRequest, NewEntry
from activitylog.privacy.erasure import Erasures
from activitylog.subjects import ERASED, Subject, SubjectKeys, is_token
from activitylog.service import ActivityService, Caller
from activitylog.store.subjectkeys import SubjectKeyTable
from activitylog.warm import compact, tier
from samlocal.template import create_table
from tests.support.digests import WRITER, cli

ORG = WRITER.org
ADMIN = Caller(ORG, "u_admin", frozenset({"activity:admin"}), name="Avery Admin")
READER = Caller(ORG, "u_reader", frozenset({"activity:read", "activity:support"}))
WARM = "warm-erasure"
HOT_DAYS = 30


def subject_keys(dynamodb_client) -> tuple[str, str, SubjectKeys]:
    """The subject keys table as template.yaml declares it, and a service key in moto's KMS (moto must be on)."""
    table = f"subject-keys-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_client, table, logical_id="SubjectKeyTable")
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    return table, key_id, SubjectKeys(SubjectKeyTable(table, region="us-east-1"), key_id, region="us-east-1")


def sealed_service(world, keys: SubjectKeys, clock=None) -> ActivityService:
    """The world's table, archive and a warm tier, with personal fields sealed under ``keys``."""
    settings = Settings(table_name=world.service.config.table_name, detail_bucket=None, cursor_secret="x",
                        policy_seconds=0, warm_bucket=WARM, hot_table_days=HOT_DAYS)
    return ActivityService(settings, store.EntryStore(DetailStore(None), subjects=keys),
                           clock=clock or (lambda: datetime.now(timezone.utc)), warm=tier.WarmTier(S3Objects(WARM, world.s3)))


def about(member: tuple[str, str], contact: tuple[str, str], occurred_at: datetime, n: int = 0) -> NewEntry:
    """A team member updating a contact's email and phone (and its CRM id, which is no personal field)."""
    return NewEntry.model_validate({
        "type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": f"Contact updated {n}",
        "actor": {"kind": "user", "id": member[0], "name": member[1]},
        "entity": {"type": "contact", "id": contact[0], "label": contact[1]},
        "before": {"email": f"old{n}@example.com", "phone": "+1 555 0100", "crm_id": "crm_7"},
        "after": {"email": f"new{n}@example.com", "phone": "+1 555 0199", "crm_id": "crm_8"},
        "metadata": {"source": "crm sync", "batch": n},
        "occurred_at": occurred_at.isoformat(),
    })


CASEY, DANA = ("u_64", "Casey Nguyen"), ("c_9", "Dana Smith")
OTHER_MEMBER, OTHER_CONTACT = ("u_7", "Robin Vale"), ("c_10", "Kim Ode")


def raw_items(dynamodb_client, table: str) -> list[dict]:
    return sorted(dynamodb_client.scan(TableName=table)["Items"], key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def archive_objects(world) -> dict[str, bytes]:
    keys = [o["Key"] for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=world.archive.bucket)
            for o in page.get("Contents", [])]
    return {key: world.s3.get_object(Bucket=world.archive.bucket, Key=key)["Body"].read() for key in keys}


def shown(entry) -> dict:
    """The personal fields as an entry shows them, and the fields that must never change."""
    return {
        "name": entry.actor["name"], "label": (entry.entity or {}).get("label"),
        "email": entry.changes["/email"], "phone": entry.changes["/phone"],
        "kept": (entry.id, entry.type.value, entry.status.value, entry.action, entry.event, entry.actor["id"],
                 entry.actor["kind"], entry.entity["type"], entry.entity["id"], entry.changes["/crm_id"], entry.metadata),
    }


@pytest.fixture
def sealed(world, dynamodb_client, monkeypatch):
    """Three entries of org_a: one 40 days old about Casey and Dana (compacted into the warm tier), one recent about
    them (the table), and one recent about others; archived and digested."""
    monkeypatch.setattr(tier, "MANIFEST_SECONDS", 0)
    world.s3.create_bucket(Bucket=WARM)
    table, key_id, keys = subject_keys(dynamodb_client)
    now = datetime.now(timezone.utc)
    moment = {"now": now - timedelta(days=40)}
    service = sealed_service(world, keys, clock=lambda: moment["now"])
    old = service.record(WRITER, about(CASEY, DANA, moment["now"] - timedelta(minutes=1), 1))
    moment["now"] = now
    recent = service.record(WRITER, about(CASEY, DANA, now - timedelta(minutes=5), 2))
    others = service.record(WRITER, about(OTHER_MEMBER, OTHER_CONTACT, now - timedelta(minutes=4), 3))
    world.archive_new()
    compact.compact(S3Objects(world.archive.bucket, world.s3), S3Objects(WARM, world.s3), ORG, (now - timedelta(days=35)).date())
    world.digest()
    yield {"service": service, "keys": keys, "key_id": key_id, "table": table, "old": old.id, "recent": recent.id,
           "others": others.id}
    dynamodb_client.delete_table(TableName=table)


def test_personal_fields_are_stored_sealed_and_shown_opened(world, sealed, dynamodb_client):
    service, recent = sealed["service"], sealed["recent"]
    # Given an entry about Casey (actor) and Dana (a contact), as the table holds it
    item = next(i for i in raw_items(dynamodb_client, world.service.config.table_name) if i["sk"]["S"] == recent)
    detail = unpack(item["bd"]["B"])
    # Then its personal fields are tokens, and nothing else is
    assert is_token(item["an"]["S"]) and is_token(item["el"]["S"])
    assert "Casey" not in json.dumps(item, default=str) and "Dana" not in json.dumps(detail, default=str)
    assert all(is_token(value) for value in detail["changes"]["/email"].values())
    assert detail["changes"]["/crm_id"] == {"before": "crm_7", "after": "crm_8"}
    assert (item["ai"]["S"], item["ei"]["S"], item["ty"]["S"], item["st"]["S"]) == ("u_64", "c_9", "USER_ACTION", "SUCCESS")
    assert detail["metadata"] == {"source": "crm sync", "batch": 2}
    # ... while the API shows them opened
    entry = service.get(READER, recent)
    assert (entry.actor["name"], entry.entity["label"]) == ("Casey Nguyen", "Dana Smith")
    assert entry.changes["/email"] == {"before": "old2@example.com", "after": "new2@example.com"}
    # ... and the list and the User filter find Casey by id, their name shown
    from activitylog.query.filters import parse_list_request

    listed = service.list(READER, parse_list_request({"user": "u_64"})).items
    assert [(i["id"], i["actor"]["name"], i["entity"]["label"]) for i in listed] == [(recent, "Casey Nguyen", "Dana Smith")]
    assert service.members(READER, "casey", 10) == [{"id": "u_64", "name": "Casey Nguyen"}]


def test_a_masked_field_of_a_contact_is_masked_before_it_is_sealed_so_no_copy_holds_its_value(world, sealed, dynamodb_client):
    # Given a contact's password changed (a built-in masked field) beside a personal field (its email)
    service = sealed["service"]
    document = about(CASEY, DANA, datetime.now(timezone.utc) - timedelta(minutes=1), 7).model_dump(mode="json", exclude_none=True)
    document["before"]["password"], document["after"]["password"] = "hunter2-old", "hunter2-new"
    recorded = service.record(WRITER, NewEntry.model_validate(document))

    # Then what is stored seals the marker, never the value: opening every token of the item finds no password
    item = next(i for i in raw_items(dynamodb_client, world.service.config.table_name) if i["sk"]["S"] == recorded.id)
    detail = unpack(item["bd"]["B"])
    assert all(is_token(value) for value in detail["changes"]["/password"].values())
    opened = sealed["keys"].reveal(ORG, detail)
    assert "hunter2" not in json.dumps(opened) and "hunter2" not in json.dumps(item, default=str)
    # ... and the entry shows the change as hidden, comparable by fingerprint, its email opened
    shown_changes = service.get(READER, recorded.id).changes
    before, after = shown_changes["/password"]["before"], shown_changes["/password"]["after"]
    assert before["hidden"] == after["hidden"] == "changed (hidden)" and before["fingerprint"] != after["fingerprint"]
    assert shown_changes["/email"] == {"before": "old7@example.com", "after": "new7@example.com"}


def test_an_erasure_makes_every_copy_show_erased_for_its_subject_and_changes_nothing_stored(world, sealed, dynamodb_client):
    service = sealed["service"]
    table = world.service.config.table_name
    assert service.warm.boundary(ORG) > sealed["old"]  # the old entry is read from the warm tier
    before = {which: shown(service.get(READER, sealed[which])) for which in ("old", "recent", "others")}
    assert before["old"]["name"] == before["recent"]["name"] == "Casey Nguyen"
    # (another container, which has read the entry and holds Casey's key unwrapped in its cache)
    elsewhere = sealed_service(world, SubjectKeys(SubjectKeyTable(sealed["table"], region="us-east-1"), sealed["key_id"],
                                                  region="us-east-1"))
    assert elsewhere.get(READER, sealed["recent"]).actor["name"] == "Casey Nguyen"
    stored, archived = raw_items(dynamodb_client, table), archive_objects(world)

    # When an admin erases Casey, then Dana
    erased = [Erasures(service).erase(ADMIN, ErasureRequest.model_validate({"subject": {"kind": kind, "id": sid}}))
              for kind, sid in (("user", "u_64"), ("contact", "c_9"))]

    # Then each says how many entries its key covered (the two about them), under a pseudonym, never the id
    assert [(e["subject"]["kind"], e["entries"], e["key_found"]) for e in erased] == [("user", 2, True), ("contact", 2, True)]
    assert all(len(e["subject"]["pseudonym"]) == 32 and "u_64" not in json.dumps(e) for e in erased)
    # ... the table (hot) and the warm tier show [erased] in those fields, and everything else as it was
    for which in ("old", "recent"):
        after = shown(service.get(READER, sealed[which]))
        assert after["name"] == after["label"] == ERASED, which
        assert after["email"] == after["phone"] == {"before": ERASED, "after": ERASED}, which
        assert after["kept"] == before[which]["kept"], which
    # ... in every container at once, whatever it has cached
    assert shown(elsewhere.get(READER, sealed["recent"]))["name"] == ERASED
    # ... an entry about other people is untouched
    assert shown(service.get(READER, sealed["others"])) == before["others"]
    # ... support's archive look-up shows every archived version so too
    for which in ("old", "recent", "others"):
        view = service.shown_document(ORG, lookup.find(world.archive, ORG, sealed[which]).view)
        expected = before[which]["name"] if which == "others" else ERASED
        assert view["actor"]["name"] == expected and view["entity"]["label"] == (before[which]["label"] if which == "others" else ERASED)
        assert view["changes"]["/crm_id"] == {"before": "crm_7", "after": "crm_8"} and view["actor"]["id"] == before[which]["kept"][5]
    # ... the User filter no longer offers Casey, and still offers Robin (and the admin, who recorded the erasures)
    assert service.members(READER, "", 10) == [{"id": "u_admin", "name": "Avery Admin"}, {"id": "u_7", "name": "Robin Vale"}]
    # ... and not one stored byte changed: the entries' items and the archive (apart from the erasures' own entries)
    erasure_ids = {e["id"] for e in erased}
    now_stored = [i for i in raw_items(dynamodb_client, table) if i["sk"]["S"] not in erasure_ids]
    entries_before = [i for i in stored if "ty" in i]
    assert [i for i in now_stored if "ty" in i] == entries_before
    assert {k: v for k, v in archive_objects(world).items() if k in archived} == archived
    # ... and the erasure is an entry of the log, in the admin's name
    record = service.get(READER, erased[0]["id"])
    assert (record.type.value, record.action, record.actor["id"], record.actor["name"]) == ("SYSTEM_EVENT", "erased", "u_admin", "Avery Admin")
    assert record.metadata["erasure"] == {"subject_kind": "user", "subject_pseudonym": erased[0]["subject"]["pseudonym"],
                                          "entries": 2, "key_found": True}


def problems(report) -> list[tuple[str, str]]:
    return [(f.kind, f.entry_id or f.key) for f in report.problems]


def test_verify_passes_after_an_erasure_still_names_an_edited_line_and_the_erased_entrys_proof_checks(
        world, sealed, support_reads, tmp_path):
    import runpy
    from pathlib import Path

    from activitylog.archive.lines import Line
    from tests.support.digests import ARCHIVE, DIGESTS

    service, recent = sealed["service"], sealed["recent"]
    assert world.verify().ok
    # Given Casey erased, and the log archived and digested since (the erasure's own entry with it)
    Erasures(service).erase(ADMIN, ErasureRequest.model_validate({"subject": {"kind": "user", "id": "u_64"}}))
    world.archive_new()
    world.digest()

    # Then verify passes: what the digests cover (the ciphertext) is what is stored
    report = world.verify()
    assert report.ok, report.to_dict()
    # ... and the erased entry's inclusion proof still checks, offline, with the personal fields unreadable
    bundle = tmp_path / "bundle.json"
    code, out = cli("prove", recent, "--org", ORG, "--archive-bucket", ARCHIVE, "--digest-bucket", DIGESTS,
                    "--public-key", str(world.signer.path), "--out", str(bundle), "--reason", "ticket 24")
    assert code == 0, out
    check = runpy.run_path(str(Path(__file__).parents[2] / "docs" / "check_proof.py"))["check"]
    assert check(bundle.read_bytes()).startswith(f"OK: 1 versions of entry {recent} (org {ORG})")
    (version,) = json.loads(bundle.read_bytes())["versions"]
    document = json.loads(version["line"])
    assert "Casey" not in bundle.read_text() and "Dana" in json.dumps(service.shown_document(ORG, document))
    assert ERASED in json.dumps(service.shown_document(ORG, document))

    # When an archived line of an erased entry is edited (its sealed name swapped for another entry's)
    key, lines = world.object_of(recent)
    edited_doc = lines[[line.entry_id for line in lines].index(recent)].document
    other = lookup.find(world.archive, ORG, sealed["others"]).view
    edited_doc["actor"]["name"] = other["actor"]["name"]
    edited = [line if line.entry_id != recent else Line.parse(json.dumps(edited_doc, sort_keys=True, separators=(",", ":")))
              for line in lines]
    world.rewrite(key, edited)

    # Then verify names it, as before
    report = world.verify()
    assert problems(report) == [("altered", recent)]


def test_an_entry_recorded_after_the_erasure_is_sealed_under_a_new_key_and_readable(world, sealed, dynamodb_client):
    service = sealed["service"]
    first_kid = service.store.subjects.table.current([Subject("user", "u_64").pk(ORG)])[Subject("user", "u_64").pk(ORG)][0]
    Erasures(service).erase(ADMIN, ErasureRequest.model_validate({"subject": {"kind": "user", "id": "u_64"}}))

    # When Casey records again
    again = service.record(WRITER, about(CASEY, OTHER_CONTACT, datetime.now(timezone.utc), 4))

    # Then the new entry is under a new key, and shown; the old ones stay erased; the directory offers Casey again
    (new_kid, _), = service.store.subjects.table.current([Subject("user", "u_64").pk(ORG)]).values()
    assert new_kid != first_kid
    item = next(i for i in raw_items(dynamodb_client, world.service.config.table_name) if i["sk"]["S"] == again.id)
    assert f"~{new_kid}~" in item["an"]["S"]
    assert service.get(READER, again.id).actor["name"] == "Casey Nguyen"
    assert service.get(READER, sealed["recent"]).actor["name"] == ERASED
    assert {"id": "u_64", "name": "Casey Nguyen"} in service.members(READER, "casey", 10)
    # ... and a second erasure covers the one entry sealed under the new key
    second = Erasures(service).erase(ADMIN, ErasureRequest.model_validate({"subject": {"kind": "user", "id": "u_64"}}))
    assert (second["entries"], second["key_found"]) == (1, True)
    # ... and a third finds no key, and says so (a retry after a failure is safe)
    third = Erasures(service).erase(ADMIN, ErasureRequest.model_validate({"subject": {"kind": "user", "id": "u_64"}}))
    assert (third["entries"], third["key_found"]) == (0, False)
    assert third["subject"]["pseudonym"] == second["subject"]["pseudonym"]


def test_writers_racing_on_a_new_subject_make_one_key_and_every_entry_reads(world, dynamodb_client):
    # Given eight writers, each its own container (its own cache), all about a contact with no key yet
    table, key_id, _ = subject_keys(dynamodb_client)
    world.s3.create_bucket(Bucket=WARM)
    stores = [SubjectKeys(SubjectKeyTable(table, region="us-east-1"), key_id, region="us-east-1") for _ in range(8)]
    services = [sealed_service(world, keys) for keys in stores]
    barrier, recorded, failures = threading.Barrier(8), [], []
    now = datetime.now(timezone.utc)

    def write(n: int) -> None:
        try:
            barrier.wait()
            recorded.append(services[n].record(WRITER, about(("u_1", "Ann Example"), ("c_new", "Nova Lane"), now, n)).id)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then all eight are written, under one key per subject, counted eight times, each shown by any container
    assert failures == [] and len(recorded) == 8
    items = dynamodb_client.scan(TableName=table)["Items"]
    assert sorted((i["pk"]["S"], int(i["n"]["N"])) for i in items) == [(f"{ORG}#contact#c_new", 8), (f"{ORG}#user#u_1", 8)]
    for n, entry_id in enumerate(recorded):
        entry = services[(n + 3) % 8].get(READER, entry_id)
        assert (entry.actor["name"], entry.entity["label"]) == ("Ann Example", "Nova Lane")
    dynamodb_client.delete_table(TableName=table)


# -- through the functions: the route, exports and streams ----------------------------------------------------


@pytest.fixture
def functions(api, activity_table, dynamodb_client, monkeypatch):
    """The API's functions with subject keys (the template's SUBJECT_KEYS_TABLE and SERVICE_KEY_ID), a stream's queue,
    an inline export's bucket, in moto."""
    from moto import mock_aws

    from activitylog import wiring
    from tests.integration.streams import StreamsWorld, TableStream, public_resolver
    from tests.support.faults import MOTO

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("RETENTION_CACHE_SECONDS", "0")
    with mock_aws(config=MOTO):
        table, key_id, _ = subject_keys(dynamodb_client)
        url = boto3.client("sqs", region_name="us-east-1").create_queue(
            QueueName="streams.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="streams@acme.example")
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="erasure-exports")
        for name, value in {"STREAM_QUEUE_URL": url, "STREAMS_ALLOW_LOOPBACK": "1", "SUBJECT_KEYS_TABLE": table,
                            "SERVICE_KEY_ID": key_id, "EXPORT_BUCKET": "erasure-exports", "EXPORT_LINK_SECRET": "s",
                            "EXPORT_LINK_BASE_URL": "https://api.example.test", "EXPORT_INLINE_ROWS": "100",
                            "EXPORT_STATE_MACHINE": "arn:aws:states:us-east-1:123456789012:stateMachine:export"}.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        wiring.container().stream_settings.resolve = public_resolver
        yield StreamsWorld(api, TableStream(dynamodb_client, activity_table), url)
        wiring.reset()
    dynamodb_client.delete_table(TableName=table)


def _body(member, contact, n: int) -> dict:
    return {"type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": f"Contact updated {n}",
            "actor": {"kind": "user", "id": member[0], "name": member[1]},
            "entity": {"type": "contact", "id": contact[0], "label": contact[1]},
            "before": {"email": "a@example.com"}, "after": {"email": "b@example.com"}}


def test_post_privacy_erasures_checks_its_input_and_scope_and_never_touches_another_orgs_subject(functions):
    from tests.integration.api_events import claims
    from tests.support.api import READER as ACME_READER
    from tests.support.api import WRITER as ACME_WRITER

    api = functions.api
    acme_admin = claims(org="org_acme", sub="u_admin", scope="activity:admin", name="Morgan Admin")
    globex_admin = claims(org="org_globex", sub="u_boss", scope="activity:admin", name="Sam Boss")
    recorded = api.record(_body(CASEY, DANA, 1), token=ACME_WRITER).body["id"]
    # (a job about Dana, its progress reported: the update's answer is shown opened too)
    job = api.record({"type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "action": "synced", "event": "Contact sync",
                      "actor": {"kind": "system", "id": "system", "name": "system"},
                      "entity": {"type": "contact", "id": "c_9", "label": "Dana Smith"}}, token=ACME_WRITER).body["id"]
    patched = api.patch(job, {"status": "SUCCESS"}, token=ACME_WRITER)
    assert patched.status == 200 and patched.body["entity"]["label"] == "Dana Smith", patched

    # Bad input is a 400 naming the field, and erases nothing
    for body, field in (({}, "subject"), ({"subject": {"kind": "robot", "id": "u_64"}}, "subject.kind"),
                        ({"subject": {"kind": "user", "id": "u 64"}}, "subject.id"), ({"subject": {"kind": "user"}}, "subject.id"),
                        ({"subject": {"kind": "user", "id": "u_64", "name": "Casey"}}, "subject.name"), ([], "body")):
        reply = api.call("POST", "/privacy/erasures", body=body, token=acme_admin)
        assert (reply.status, reply.field) == (400, field), (body, reply)
    # ... a token without activity:admin is a 403 on the scope
    for scope in ("activity:read", "activity:write", "activity:support"):
        token = claims(org="org_acme", sub="u_17", scope=scope)
        reply = api.call("POST", "/privacy/erasures", body={"subject": {"kind": "user", "id": "u_64"}}, token=token)
        assert (reply.status, reply.field) == (403, "scope"), reply
    assert api.get(recorded, token=ACME_READER).body["actor"]["name"] == "Casey Nguyen"

    # When another org's admin erases a u_64 and a c_9 of their own
    for kind, sid in (("user", "u_64"), ("contact", "c_9")):
        reply = api.call("POST", "/privacy/erasures", body={"subject": {"kind": kind, "id": sid}}, token=globex_admin)
        assert reply.status == 201 and (reply.body["entries"], reply.body["key_found"]) == (0, False), reply

    # Then org_acme's Casey and Dana are untouched
    shown_entry = api.get(recorded, token=ACME_READER).body
    assert (shown_entry["actor"]["name"], shown_entry["entity"]["label"]) == ("Casey Nguyen", "Dana Smith")
    assert api.call("GET", "/members", query={"q": "casey"}, token=ACME_READER).body["items"] == [
        {"id": "u_64", "name": "Casey Nguyen"}]

    # When org_acme's admin erases Casey
    reply = api.call("POST", "/privacy/erasures", body={"subject": {"kind": "user", "id": "u_64"}}, token=acme_admin)
    assert reply.status == 201 and (reply.body["entries"], reply.body["key_found"]) == (1, True), reply
    shown_entry = api.get(recorded, token=ACME_READER).body
    assert (shown_entry["actor"]["name"], shown_entry["entity"]["label"]) == (ERASED, "Dana Smith")
    assert api.call("GET", "/members", query={"q": "casey"}, token=ACME_READER).body["items"] == []
    # ... and the erasure is listed as a SYSTEM_EVENT in the admin's name, the subject by pseudonym only
    (erasure,) = [item for item in api.list(type="SYSTEM_EVENT", token=ACME_READER).body["items"] if item["action"] == "erased"]
    assert erasure["id"] == reply.body["id"] and erasure["actor"]["name"] == "Morgan Admin"
    assert "u_64" not in json.dumps(api.get(erasure["id"], token=ACME_READER).body)


def test_an_export_and_a_stream_delivered_after_the_erasure_show_erased_for_its_subject_only(functions):
    import csv
    import io

    from tests.integration.api_events import claims
    from tests.support.api import WRITER as ACME_WRITER
    from tests.support.streams import Receiver

    api, admin = functions.api, claims(org="org_acme", sub="u_admin", scope="activity:admin", name="Morgan Admin")
    receiver = Receiver()
    try:
        # Given a stream, and entries about Casey and about others, recorded (and waiting for delivery)
        functions.create(receiver.url, token=admin, filter={"type": ["USER_ACTION"]})
        casey = api.record(_body(CASEY, DANA, 1), token=ACME_WRITER).body["id"]
        others = api.record(_body(OTHER_MEMBER, OTHER_CONTACT, 2), token=ACME_WRITER).body["id"]
        assert functions.fan_out()["waiting"] == 2

        # When Casey and Dana are erased before the stream delivers them
        for kind, sid in (("user", "u_64"), ("contact", "c_9")):
            assert api.call("POST", "/privacy/erasures", body={"subject": {"kind": kind, "id": sid}}, token=admin).status == 201

        # Then the stream delivers Casey's entry with [erased] in the personal fields, and the other one readable
        assert functions.ring_all(functions.delivery()) == [{"delivered": 2}]
        delivered = {event["id"]: event for event in receiver.events}
        assert set(delivered) == {casey, others}
        text = json.dumps(delivered[casey])
        assert "Casey" not in text and "Dana" not in text and "pd1~" not in text and text.count(ERASED) >= 3
        assert "Robin Vale" in json.dumps(delivered[others]) and "Kim Ode" in json.dumps(delivered[others])
    finally:
        receiver.close()

    # ... and an export (the CSV's rows) shows [erased] for them and the others as they are
    from tests.integration.api_events import api_event, handler_module
    from tests.support.kit import LambdaContext

    requester = claims(org="org_acme", sub="u_17", scope="activity:read", name="Riley Park")
    event = api_event("POST", "/exports", body={"filters": {"type": ["USER_ACTION"]}}, claims=requester)
    response = handler_module("POST", "/exports").lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 200, response
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(response["body"], newline=""))}
    assert (rows[casey]["actor_name"], rows[casey]["entity_label"], rows[casey]["actor_id"]) == (ERASED, ERASED, "u_64")
    assert (rows[others]["actor_name"], rows[others]["entity_label"]) == ("Robin Vale", "Kim Ode")
    assert "pd1~" not in response["body"]
