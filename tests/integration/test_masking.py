"""Masked fields (activitylog.masking): a sensitive field's change is recorded, never its value.

The API's functions as API Gateway calls them, against DynamoDB Local, with the service key in moto's KMS:
what the table, the table's stream (the archive's line, a stream's delivery) and an export hold is read
back raw, and must not contain the value anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from activitylog import details, wiring
from activitylog.api import common
from activitylog.masking import HIDDEN, fingerprint

from .api_events import claims
from .streams import TableStream
from tests.support.api import OTHER_ORG_WRITER, READER, WRITER, entry, job
from tests.support.faults import MOTO

ADMIN = claims(org="org_acme", sub="u_admin", scope="activity:admin", name="Ada Admin")
OTHER_ADMIN = claims(org="org_globex", sub="u_boss", scope="activity:admin", name="Gil Boss")
SSN, NEW_SSN, PASSWORD, API_KEY = "123-45-6789", "987-65-4321", "hunter2-correct-horse", "sk_live_51Hq9zzPlainText"


@pytest.fixture
def api_with_kms(api, monkeypatch):
    """The API with template.yaml's ServiceKey as moto's KMS key: the orgs' fingerprint keys are wrapped under it."""
    with mock_aws(config=MOTO):
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        monkeypatch.setenv("SERVICE_KEY_ID", key_id)
        wiring.reset()
        yield api
        wiring.reset()


def stored_text(dynamodb_client, table: str) -> str:
    """Every item of the table as text, each entry's compressed detail opened: what the table holds."""
    items = dynamodb_client.scan(TableName=table)["Items"]
    opened = [details.unpack(item["bd"]["B"]) for item in items if "bd" in item]
    return json.dumps(items, default=repr) + json.dumps(opened)


def put_patterns(api, patterns, token=ADMIN):
    return api.call("PUT", "/settings/privacy", body={"patterns": patterns}, token=token)


def contact_change(before_ssn, after_ssn, **extra):
    return entry(
        before={"name": "Alex", "ssn": before_ssn, "password": PASSWORD},
        after={"name": "Alexandra", "ssn": after_ssn, "password": PASSWORD},
        metadata={"login": {"ApiKey": API_KEY}, "ip": "10.0.0.7"},
        **extra,
    )


def test_a_masked_fields_change_is_recorded_without_its_value_and_compared_by_fingerprint(
    api_with_kms, activity_table, dynamodb_client
):
    api = api_with_kms
    # Given an org that masks /ssn (besides the built-in passwords, API keys, ...)
    assert put_patterns(api, ["/ssn"]).status == 200

    # When a writer records the SSN changing, the password sent unchanged and an API key in metadata
    first = api.record(contact_change(SSN, NEW_SSN))
    assert first.status == 201, first.body

    # Then the entry says the SSN changed, with a marker carrying a fingerprint on each side, and no value
    stored = api.get(first.body["id"]).body
    change = stored["changes"]["/ssn"]
    assert change["before"]["hidden"] == change["after"]["hidden"] == HIDDEN
    assert change["before"]["fingerprint"] != change["after"]["fingerprint"]
    assert stored["changes"]["/name"] == {"before": "Alex", "after": "Alexandra"}  # unmasked fields as sent
    assert "/password" not in stored["changes"]  # the same (masked) value before and after: no change
    assert stored["metadata"]["login"]["ApiKey"]["hidden"] == HIDDEN and stored["metadata"]["ip"] == "10.0.0.7"
    assert first.body["changes"] == stored["changes"]  # the writer is answered what is stored
    # ... and the value is nowhere in the table: not in the entry, its detail, nor any other item
    text = stored_text(dynamodb_client, activity_table)
    for secret in (SSN, NEW_SSN, PASSWORD, API_KEY):
        assert secret not in text
    # ... nor in the table's stream, nor the archive's line, nor a stream's delivery made from it
    from activitylog.archive.lines import version_line
    from activitylog.streams.formats import render
    from activitylog.views import detail_view

    records = TableStream(dynamodb_client, activity_table).records()
    assert records
    service = common.service()
    for record in records:
        found = service.entry_from_image(record["dynamodb"]["NewImage"])
        if found is None:
            continue
        org, version = found
        line = version_line(org, version, record["dynamodb"]["SequenceNumber"], record["eventName"], None).text
        delivered = json.dumps([render(detail_view(version), fmt, org=org) for fmt in ("native", "ocsf", "cloudevents")])
        for secret in (SSN, NEW_SSN, PASSWORD, API_KEY):
            assert secret not in json.dumps(record) + line + delivered
    # ... nor an export's file
    from activitylog import ids
    from activitylog.exports.csvfile import CsvWriter
    from activitylog.query.filters import ActivityFilter

    page = service.read_page("org_acme", ActivityFilter(), ids.LOWEST_ID, ids.HIGHEST_ID, 100, detail=True)
    writer = CsvWriter(header=True)
    for item in page.items:
        writer.write(item)
    csv_text = writer.take().decode()
    assert first.body["id"] in csv_text and "/ssn" in csv_text
    assert not any(secret in csv_text for secret in (SSN, NEW_SSN, PASSWORD, API_KEY))

    # When the same SSN is recorded again, in this org and in another
    again = api.record(contact_change(NEW_SSN, SSN))
    elsewhere = api.record(contact_change(NEW_SSN, SSN), token=OTHER_ORG_WRITER)

    # Then the same value has the same fingerprint in the org, and another in the other org
    again_change = api.get(again.body["id"]).body["changes"]["/ssn"]
    assert again_change["before"]["fingerprint"] == change["after"]["fingerprint"]
    assert again_change["after"]["fingerprint"] == change["before"]["fingerprint"]
    other = elsewhere.body["metadata"]["login"]["ApiKey"]["fingerprint"]
    assert other != stored["metadata"]["login"]["ApiKey"]["fingerprint"]
    # ... and the org's key is kept only wrapped under the service key: it opens with KMS, for its own org
    raw = dynamodb_client.get_item(TableName=activity_table, Key={"pk": {"S": "org_acme#meta"}, "sk": {"S": "maskkey"}})
    blob = raw["Item"]["key"]["B"]
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"org": "org_acme", "use": "mask-fingerprint"})["Plaintext"]
    assert key not in blob and len(key) == 32
    assert fingerprint(key, NEW_SSN) == change["after"]["fingerprint"]
    assert change["after"]["fingerprint"] == "hmac-sha256:" + hmac.new(key, b'"987-65-4321"', hashlib.sha256).hexdigest()
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"org": "org_globex", "use": "mask-fingerprint"})


def test_the_built_in_fields_are_masked_with_no_settings_on_every_write_path(api_with_kms, activity_table, dynamodb_client):
    api = api_with_kms
    # Given an org that never set its privacy settings
    assert api.call("GET", "/settings/privacy", token=READER).body["patterns"] == []

    # When a password, a token and a card number arrive by POST, a batch, a job's progress and a provider's event
    one = api.record(entry(before={"password": "old-" + PASSWORD}, after={"password": PASSWORD}))
    batch = api.call("POST", "/activities/batch", token=WRITER,
                     body={"entries": [entry(metadata={"payment": {"card_number": "4242424242424242", "token": API_KEY}})]})
    started = api.record(job())
    progress = api.patch(started.body["id"], {"metadata": {"refresh_token": API_KEY, "processed": 5}})
    final = {"status": "SUCCESS", "metadata": {"refresh_token": API_KEY}}
    done, again = api.patch(started.body["id"], final), api.patch(started.body["id"], final)
    from activitylog.inputs import NewEntry

    event = NewEntry.model_validate(entry(type="WEBHOOK", actor={"kind": "external", "id": "stripe", "name": "Stripe"},
                                          occurred_at=datetime.now(timezone.utc) - timedelta(minutes=1),
                                          source={"provider": "stripe", "event_id": "evt_1"},
                                          metadata={"client_secret": "pi_3_secret_" + PASSWORD}))
    ((provider_id, _),) = common.service().record_events("org_acme", [event], "webhooks")

    # Then each is recorded as changed (hidden), and none of the values is stored
    assert one.status == 201 and one.body["changes"]["/password"]["after"]["hidden"] == HIDDEN
    assert batch.status == 200 and batch.body["accepted"] == 1
    assert progress.status == done.status == again.status == 200, (progress.body, done.body, again.body)
    assert again.body == done.body  # a final report sent again changes nothing (it is masked alike)
    assert done.body["metadata"]["refresh_token"]["hidden"] == HIDDEN and done.body["metadata"]["processed"] == 5
    assert provider_id
    text = stored_text(dynamodb_client, activity_table)
    for secret in (PASSWORD, API_KEY, "4242424242424242"):
        assert secret not in text


def test_an_orgs_pattern_applies_to_entries_recorded_after_it(api_with_kms):
    api = api_with_kms
    # Given an entry recorded before the org masks /ssn
    before = api.record(contact_change(SSN, NEW_SSN))

    # When an admin adds the pattern and the same change is recorded again
    assert put_patterns(api, ["/ssn"]).status == 200
    after = api.record(contact_change(SSN, NEW_SSN))

    # Then the new entry hides the SSN, and the earlier one keeps what it holds
    assert api.get(after.body["id"]).body["changes"]["/ssn"]["after"]["hidden"] == HIDDEN
    assert api.get(before.body["id"]).body["changes"]["/ssn"] == {"before": SSN, "after": NEW_SSN}


def test_a_settings_change_is_recorded_with_the_patterns_before_and_after(api_with_kms):
    api = api_with_kms
    # When an admin sets two patterns, then replaces one
    first = put_patterns(api, ["/ssn", "/**/salary"])
    second = put_patterns(api, ["/ssn", "/payment/*/iban"])
    same = put_patterns(api, ["/ssn", "/payment/*/iban"])

    # Then the settings read back as changed, and each change is one SYSTEM_EVENT with the lists before and after
    assert first.status == second.status == same.status == 200
    settings = api.call("GET", "/settings/privacy", token=READER).body
    assert settings["patterns"] == ["/ssn", "/payment/*/iban"] and settings["updated_by"] == "u_admin"
    assert "/**/password" in settings["defaults"]
    recorded = api.list(type="SYSTEM_EVENT").body["items"]
    assert [item["entity"] for item in recorded] == [{"type": "setting", "id": "privacy", "label": "Masked fields"}] * 2
    newest, oldest = (api.get(item["id"]).body for item in recorded)
    assert oldest["changes"] == {"/patterns": {"before": [], "after": ["/ssn", "/**/salary"]}}
    assert newest["changes"] == {"/patterns": {"before": ["/ssn", "/**/salary"], "after": ["/ssn", "/payment/*/iban"]}}
    assert newest["actor"] == {"kind": "user", "id": "u_admin", "name": "Ada Admin"}


def test_a_settings_change_whose_directory_write_fails_writes_nothing_and_its_resend_is_found_by_member_and_type(
        api_with_kms):
    # The members directory is written before the change's entry (store.actors): a directory the table refuses
    # refuses the change whole, so no entry of the admin's is ever missing from the directory's kinds
    from tests.integration.api_events import LambdaContext, api_event, handler_module
    from tests.support.faults import directory_writes_refused

    api = api_with_kms
    api.list()
    event = api_event("PUT", "/settings/privacy", body={"patterns": ["/ssn"]}, claims=ADMIN)
    with directory_writes_refused():
        response = handler_module("PUT", "/settings/privacy").lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 503, response
    assert api.call("GET", "/settings/privacy", token=READER).body["patterns"] == []
    assert api.list(type="SYSTEM_EVENT").body["items"] == []

    assert put_patterns(api, ["/ssn"]).status == 200
    (recorded,) = api.list(user="u_admin", type="SYSTEM_EVENT").body["items"]
    assert recorded["entity"] == {"type": "setting", "id": "privacy", "label": "Masked fields"}


@pytest.mark.parametrize("body, field", [
    ({"patterns": ["/ssn", "ssn"]}, "patterns.1"),
    ({"patterns": ["/ok", "/a", "/b", "/a//b"]}, "patterns.3"),
    ({"patterns": ["/card*"]}, "patterns.0"),
    ({"patterns": ["/**"]}, "patterns.0"),
    ({"patterns": ["/a~2"]}, "patterns.0"),
    ({"patterns": [7]}, "patterns.0"),
    ({"patterns": "/ssn"}, "patterns"),
    ({"patterns": ["/ssn"], "fields": []}, "fields"),
    ({"patterns": ["/x"] * 101}, "patterns"),
    ([], "body"),
], ids=["no slash", "empty segment", "partial wildcard", "wildcards only", "bad escape", "not a string",
        "not a list", "unknown field", "too many", "not an object"])
def test_bad_patterns_are_a_400_naming_the_field_and_change_nothing(api_with_kms, body, field):
    reply = api_with_kms.call("PUT", "/settings/privacy", body=body, token=ADMIN)
    assert reply.status == 400 and reply.field == field, reply
    assert api_with_kms.call("GET", "/settings/privacy", token=ADMIN).body["patterns"] == []
    assert api_with_kms.list(type="SYSTEM_EVENT").body["items"] == []


def test_another_org_can_neither_read_nor_change_an_orgs_settings(api_with_kms):
    api = api_with_kms
    put_patterns(api, ["/ssn"])
    # Another org's admin reads and changes its own settings only
    assert api.call("GET", "/settings/privacy", token=OTHER_ADMIN).body["patterns"] == []
    assert put_patterns(api, ["/**/notes"], token=OTHER_ADMIN).status == 200
    assert api.call("GET", "/settings/privacy", token=ADMIN).body["patterns"] == ["/ssn"]
    # ... its /ssn is not masked; and in this org, a reader may see the settings but not change them, a writer neither
    assert api.record(contact_change(SSN, NEW_SSN), token=OTHER_ORG_WRITER).body["changes"]["/ssn"]["after"] == NEW_SSN
    assert put_patterns(api, [], token=READER).status == 403
    assert api.call("GET", "/settings/privacy", token=WRITER).status == 403
    assert api.call("GET", "/settings/privacy", token=ADMIN).body["patterns"] == ["/ssn"]


def test_two_containers_making_an_orgs_first_key_at_once_both_use_the_one_kept(api_with_kms, activity_table, dynamodb_client):
    import threading

    from activitylog.masking import MaskKeys
    from activitylog.store import EntryStore

    # Given two containers that both find no key for the org (each waits until the other has looked too)
    service = common.service()
    looked = threading.Barrier(2, timeout=10)

    class Racing(EntryStore):
        first = True

        def mask_key(self, org):
            found = super().mask_key(org)
            if self.first:
                self.first = False
                looked.wait()
            return found

    containers = [MaskKeys(Racing(service.store.detail_store), service.config.service_key) for _ in range(2)]
    keys: list[bytes] = []

    # When both make one and keep it at the same moment
    threads = [threading.Thread(target=lambda c=c: keys.append(c.key("org_race"))) for c in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    # Then one key is kept, and both use it (the loser's own is dropped): their fingerprints agree
    assert len(keys) == 2 and keys[0] == keys[1]
    kept = dynamodb_client.query(TableName=activity_table, KeyConditionExpression="pk = :pk",
                                 ExpressionAttributeValues={":pk": {"S": "org_race#meta"}})["Items"]
    assert [item["sk"]["S"] for item in kept] == ["maskkey"]


def test_the_key_policy_lets_the_functions_use_the_service_key_directly_for_masking_keys_only(template):
    # The key policy allows the functions' roles the service key through AWS services only (kms:ViaService); the
    # orgs' masking keys are the exception, and only with the encryption context the code sends.
    from activitylog.masking import KEY_CONTEXT

    statements = template["Resources"]["ServiceKey"]["Properties"]["KeyPolicy"]["Statement"]
    (direct,) = [s for s in statements if "kms:ViaService" not in json.dumps(s) and "GenerateDataKey" in json.dumps(s)
                 and "AWS" in s["Principal"] and "kms:EncryptionContext:use" in json.dumps(s)]
    assert sorted(direct["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert direct["Condition"]["StringEquals"] == {"kms:EncryptionContext:use": KEY_CONTEXT}
    assert "FunctionRole-*" in json.dumps(direct["Condition"]["ArnLike"]["aws:PrincipalArn"])
    assert template["Globals"]["Function"]["Environment"]["Variables"]["SERVICE_KEY_ID"] == {"Ref": "ServiceKey"}


def test_two_admins_changing_the_patterns_at_once_lose_neither_change_nor_its_record(api_with_kms, activity_table):
    import threading

    from activitylog.config import Settings
    from activitylog.details import DetailStore
    from activitylog.privacy.settings import PrivacySettings
    from activitylog.service import ActivityService, Caller
    from activitylog.store import EntryStore

    # Given two containers whose admins both read the (empty) settings before either writes
    read = threading.Barrier(2, timeout=10)

    def container() -> ActivityService:
        service = ActivityService(Settings(table_name=activity_table, detail_bucket=None, cursor_secret="x", policy_seconds=0),
                                  EntryStore(DetailStore(None)))
        first = service.privacy

        def privacy(org, fresh=False):
            found = first(org, fresh)
            if not getattr(service, "waited", False):
                service.waited = True
                read.wait()
            return found

        service.privacy = privacy
        return service

    answers: dict[str, dict] = {}

    def change(name: str, patterns: list[str]) -> None:
        caller = Caller("org_acme", name, frozenset({"activity:admin"}), name=name)
        answers[name] = PrivacySettings(container()).change(caller, {"patterns": patterns})

    # When both change them at the same moment
    threads = [threading.Thread(target=change, args=args) for args in (("u_ada", ["/ssn"]), ("u_bo", ["/**/salary"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    # Then one change lands after the other: the last one's patterns are the org's, and each is recorded once
    # with what it replaced (the later one's "before" is the earlier one's "after", not the empty list both read)
    assert set(answers) == {"u_ada", "u_bo"}
    final = api_with_kms.call("GET", "/settings/privacy", token=ADMIN).body
    recorded = [api_with_kms.get(item["id"]).body for item in api_with_kms.list(type="SYSTEM_EVENT").body["items"]]
    newest, oldest = recorded
    assert oldest["changes"]["/patterns"]["before"] == []
    assert newest["changes"]["/patterns"]["before"] == oldest["changes"]["/patterns"]["after"]
    assert final["patterns"] == newest["changes"]["/patterns"]["after"] and final["updated_by"] == newest["actor"]["id"]
