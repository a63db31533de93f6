"""Masked fields through the session's local stack: an admin masks /ssn, a writer records an SSN and a password
changing, and the page's Before / After says "changed (hidden)" where the API answers the markers (the local
stack's ServiceKey is moto's KMS key, reached by the functions' own processes)."""

from __future__ import annotations

import pytest

from tests.support.page import expect

pytestmark = pytest.mark.e2e

ORG = "org_e2e_masking"
SSN, PASSWORD = "123-45-6789", "hunter2-correct-horse"


def test_the_page_shows_a_masked_fields_change_as_changed_hidden_and_never_its_value(open_page, api_stack):
    admin = api_stack.token(ORG, "u_admin", scopes=("admin",), name="Ada Admin")
    writer = api_stack.token(ORG, "svc_contacts", scopes=("write",))
    status, settings = api_stack.request("PUT", "/settings/privacy", token=admin, body={"patterns": ["/ssn"]})
    assert status == 200 and settings["patterns"] == ["/ssn"], settings
    status, recorded = api_stack.request("POST", "/activities", token=writer, body={
        "type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": "Contact updated · Alex Chen",
        "actor": {"kind": "user", "id": "u_17", "name": "Riley Park"},
        "entity": {"type": "contact", "id": "c_42", "label": "Alex Chen"},
        "before": {"ssn": "000-00-0000", "password": "old-" + PASSWORD, "city": "Napa"},
        "after": {"ssn": SSN, "password": PASSWORD, "city": "Sonoma"}})
    assert status == 201, recorded
    assert recorded["changes"]["/ssn"]["after"]["fingerprint"].startswith("hmac-sha256:")

    page = open_page(f"/?range=all&entry={recorded['id']}", org=ORG)
    diff = page.get_by_role("table", name="Changed fields, before and after")
    expect()(diff).to_be_visible()
    for field in ("/ssn", "/password"):
        cells = diff.get_by_role("row", name=field).locator("td")
        assert [text.strip() for text in cells.all_inner_texts()] == ["changed (hidden)"] * 2, field
    assert diff.get_by_role("row", name="/city").locator("td").all_inner_texts() == ["Napa", "Sonoma"]
    shown = page.content()
    assert SSN not in shown and PASSWORD not in shown
