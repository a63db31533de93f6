"""Access transparency through the served stack (issue 22, item 3): ``activitylog archive query`` reads an org's
archive with credentials the service never sees, so it records the query in the org's log through the API first
(``POST /support/archive-queries``) and reads nothing unless that record was written in that very org."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.e2e

ORG = "org_e2e_access_cli"


def support_records(api_stack, org: str = ORG) -> list[dict]:
    """The org's SYSTEM_EVENTs from the archive query route, as the org's own reader lists them (the page's request)."""
    status, listed = api_stack.request("GET", "/activities?type=SYSTEM_EVENT&limit=200",
                                       api_stack.token(org, "u_reader", scopes=("read",)))
    assert status == 200, listed
    return [item for item in listed["items"] if item["event"].startswith("Support queried the archive")]


def test_the_archive_query_is_recorded_in_the_orgs_log_first_and_refused_when_it_cannot_be(api_stack):
    window = ("--from", "2h", "--type", "BACKGROUND_JOB")

    # Run as support on this machine: a support token of --org minted from the stack's dev key
    ran = api_stack.cli("archive", "query", "--org", ORG, *window, "--reason", "ticket 4312", "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (record,) = support_records(api_stack)
    assert record["actor"]["id"] == "u_support"
    assert record["event"].startswith("Support queried the archive · type=BACKGROUND_JOB from=")
    assert record["event"].endswith(" · reason: ticket 4312"), record["event"]
    status, detail = api_stack.request("GET", f"/activities/{record['id']}", api_stack.token(ORG, "u_reader", scopes=("read",)))
    assert status == 200 and detail["metadata"]["reason"] == "ticket 4312" and detail["metadata"]["filter"]["type"] == ["BACKGROUND_JOB"]

    # Without a reason the command does not run at all
    unreasoned = api_stack.cli("archive", "query", "--org", ORG, *window)
    assert unreasoned.returncode == 2 and "--reason" in unreasoned.stderr

    # A token of another org (as in AWS: --api and --token): recorded there, so this org's query is refused unread
    other = api_stack.token("org_e2e_elsewhere", "u_support", scopes=("support",))
    refused = api_stack.cli("archive", "query", "--org", ORG, *window, "--reason", "ticket 4313", "--json",
                            "--api", api_stack.url, "--token", other)
    assert refused.returncode == 1 and refused.stdout == "", refused.stdout
    assert "the token's org is org_e2e_elsewhere, not --org org_e2e_access_cli: nothing was read" in refused.stderr
    # A token that may not record (a reader's): the API refuses the record, and nothing is read
    reader = api_stack.token(ORG, "u_reader", scopes=("read",))
    refused = api_stack.cli("archive", "query", "--org", ORG, *window, "--reason", "ticket 4314", "--json",
                            "--api", api_stack.url, "--token", reader)
    assert refused.returncode == 1 and refused.stdout == "", refused.stdout
    assert "could not be recorded" in refused.stderr and "403" in refused.stderr, refused.stderr
    assert [r["event"].rsplit("reason: ", 1)[1] for r in support_records(api_stack)] == ["ticket 4312"]
    assert json.dumps(support_records(api_stack, "org_e2e_elsewhere")).count("ticket 4313") == 1


def test_the_page_shows_supports_reads_and_their_reason_like_any_system_event(api_stack, open_page):
    from tests.support.page import expect, settled

    org = "org_e2e_access_page"
    writer = api_stack.token(org, "svc_contacts", scopes=("write",))
    support = api_stack.token(org, "u_support", name="Dana (support)", scopes=("support",))
    status, written = api_stack.request("POST", "/activities", writer, body={
        "type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": "Contact updated · Alex Chen",
        "actor": {"kind": "user", "id": "u_17", "name": "Riley Park"}, "entity": {"type": "contact", "id": "c_42", "label": "Alex Chen"}})
    assert status == 201, written
    # Support lists the org's failures and reads the entry through the ordinary routes, giving its ticket
    assert api_stack.request("GET", "/activities?status=FAILED&reason=ticket%204312", support)[0] == 200
    assert api_stack.request("GET", f"/activities/{written['id']}?reason=ticket%204312", support)[0] == 200
    status, listed = api_stack.request("GET", "/activities?type=SYSTEM_EVENT", api_stack.token(org, "u_reader", scopes=("read",)))
    records = {item["event"]: item["id"] for item in listed["items"]}
    assert set(records) == {"Support listed entries · status=FAILED · reason: ticket 4312",
                            f"Support viewed entry {written['id']} · reason: ticket 4312"}, records

    # The org's reader sees both rows, and a record's detail: who read, what, and why
    listing = records["Support listed entries · status=FAILED · reason: ticket 4312"]
    page = open_page(f"/?type=SYSTEM_EVENT&entry={listing}", org=org)
    settled(page)
    for event in records:
        expect()(page.get_by_role("row", name=re.compile(re.escape(event)))).to_be_visible()
    expect()(page.locator("#detail-title")).to_have_text("Support listed entries · status=FAILED · reason: ticket 4312")
    facts = page.locator("#detail dl").inner_text()
    assert "Dana (support) (user, u_support)" in facts and "viewed" in facts, facts
    metadata = page.locator("#detail .json").inner_text()
    assert "reason: " in metadata and "ticket 4312" in metadata and "GET /activities" in metadata, metadata
