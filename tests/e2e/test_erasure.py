"""Erasure through the served stack (issue 24 items 2 and 3): the template's subject keys table and service key (a
moto key the local stack keeps), the record, query, settings and support functions each in its own execution
environment. What a writer's retried request is answered from (Powertools' record) holds ciphertext too."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

ORG = "org_e2e_erasure"
ERASED = "[erased]"


def test_an_erased_member_shows_erased_everywhere_shown_and_records_again_under_a_new_key(api_stack):
    admin = api_stack.token(ORG, "u_admin", name="Morgan Admin", scopes=("admin",))
    writer = api_stack.token(ORG, "svc_crm", scopes=("read", "write"))
    support = api_stack.token(ORG, "u_support", scopes=("support",))
    body = {"type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": "Contact updated",
            "actor": {"kind": "user", "id": "u_64", "name": "Casey Nguyen"},
            "entity": {"type": "contact", "id": "c_9", "label": "Dana Smith"},
            "before": {"email": "dana@old.example"}, "after": {"email": "dana@new.example"}}
    key = {"Idempotency-Key": "erasure-e2e-1"}
    status, created = api_stack.request("POST", "/activities", writer, body=body, headers=key)
    assert status == 201 and created["actor"]["name"] == "Casey Nguyen", created
    status, found = api_stack.request("GET", "/members?q=casey", writer)
    assert status == 200 and found["items"] == [{"id": "u_64", "name": "Casey Nguyen"}], found

    # When an admin erases Casey
    status, erased = api_stack.request("POST", "/privacy/erasures", admin, body={"subject": {"kind": "user", "id": "u_64"}})
    assert status == 201 and (erased["entries"], erased["key_found"]) == (1, True), erased

    # Then the entry, the list, support's look-up and the retried write's kept answer show [erased] for Casey only
    status, shown = api_stack.request("GET", f"/activities/{created['id']}", writer)
    assert status == 200 and shown["actor"] == {"kind": "user", "id": "u_64", "name": ERASED}, shown
    assert shown["entity"]["label"] == "Dana Smith" and shown["changes"]["/email"]["after"] == "dana@new.example"
    status, listed = api_stack.request("GET", "/activities?user=u_64", writer)
    assert [(i["id"], i["actor"]["name"]) for i in listed["items"]] == [(created["id"], ERASED)], listed
    status, looked_up = api_stack.request("GET", f"/support/activities/{created['id']}?reason=ticket+24", support)
    assert status == 200 and looked_up["actor"]["name"] == ERASED, looked_up
    status, again = api_stack.request("POST", "/activities", writer, body=body, headers=key)
    assert status == 201 and again["id"] == created["id"] and again["actor"]["name"] == ERASED, again
    status, found = api_stack.request("GET", "/members?q=casey", writer)
    assert found["items"] == [], found

    # ... and Casey's next entry is readable (a new key): erasure is no ban on new records
    status, later = api_stack.request("POST", "/activities", writer, body=body)
    assert status == 201 and later["actor"]["name"] == "Casey Nguyen", later
    status, shown = api_stack.request("GET", f"/activities/{later['id']}", writer)
    assert shown["actor"]["name"] == "Casey Nguyen", shown
