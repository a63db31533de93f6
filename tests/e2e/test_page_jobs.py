"""Retry and the related chain on the Activity Logs page, in Debian's Chromium (the page tier's browser and fixtures).

Given an org seeded with the demo generator (its SYNC_SQUARE_STOCK failure among the rows) and
a team member allowed to retry, when they open the failed job and press Retry, then the panel
shows the new run, linked to the original, and lists the chain, each entry a link.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pytest

from activitylog_local.client import HttpClient
from activitylog_local.demo import demo_entries, seed
from tests.support.page import expect, settled

pytestmark = pytest.mark.e2e

ORG = "org_e2e_retry"


@pytest.fixture(scope="module")
def retry_org(api_stack):
    """The demo's five example rows and a few more, and a failed one-time sync."""
    writer = HttpClient(api_stack.url, api_stack.token(ORG, "svc_e2e_seed", scopes=("read", "write")))
    seed(writer, demo_entries(datetime.now(timezone.utc), count=20, days=1))
    status, body = writer.request("POST", "/activities", {
        "type": "BACKGROUND_JOB", "status": "FAILED", "actor": {"kind": "system", "id": "system", "name": "system"},
        "action": "imported", "event": "IMPORT_CONTACTS · Spring list", "metadata": {"job": "IMPORT_CONTACTS"},
        "entity": {"type": "integration", "id": "int_mailchimp", "label": "Mailchimp"},
        "error": {"message": "the file has no email column", "type": "ImportError"}})
    assert status == 201, body
    return ORG


def riley(api_stack) -> str:
    return api_stack.token(ORG, "u_17", scopes=["read", "retry"], name="Riley Park")


def test_retry_on_a_failed_job_shows_the_new_run_linked_to_the_original_and_the_chain(open_page, api_stack, retry_org):
    page = open_page("/", org=retry_org, token=riley(api_stack))
    settled(page)
    page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK.*FAILED")).first.click()
    panel = page.get_by_role("dialog")
    expect()(panel.locator(".error-message")).to_contain_text("the access token has expired")
    original = panel.locator(".facts code").first.inner_text()

    panel.get_by_role("toolbar", name="Entry actions").get_by_role("button", name="Retry").click()

    # The panel moves to the new run: a SYNC_SQUARE_STOCK of its own, "Retry of" the original.
    expect()(panel.get_by_role("link", name=original)).to_be_visible(timeout=30_000)
    assert panel.locator(".facts code").first.inner_text() != original
    assert panel.get_by_role("heading", level=2).inner_text() == "SYNC_SQUARE_STOCK"
    chain = panel.get_by_role("region", name="Related").get_by_role("listitem")
    expect()(chain).to_have_count(4, timeout=30_000)  # the failure, "Retried …" by Riley, this run, its webhook
    expect()(chain.nth(1)).to_contain_text("USER_ACTION · Retried SYNC_SQUARE_STOCK")
    expect()(chain.nth(2)).to_contain_text("(this entry)")
    expect()(chain.nth(3)).to_contain_text("Webhook sent · inventory.updated → WooCommerce")

    chain.nth(0).get_by_role("link").click()  # back to the original, from its chain
    expect()(panel.locator(".facts code").first).to_have_text(original)
    expect()(panel.locator(".badge").first).to_have_text("FAILED")


def test_an_open_chain_shows_an_entry_recorded_after_the_panel_opened(open_page, api_stack, retry_org):
    """The chain is read again while it moves: an entry of the chain recorded while the panel is open
    (a retried run's webhook, seconds after the run) joins the list without reopening the entry."""
    writer = HttpClient(api_stack.url, api_stack.token(ORG, "svc_e2e_seed", scopes=("read", "write")))
    chain = f"chain_{uuid.uuid4().hex[:12]}"

    def record(event: str) -> str:
        status, body = writer.request("POST", "/activities", {
            "type": "SYSTEM_EVENT", "status": "SUCCESS", "actor": {"kind": "system", "id": "system", "name": "system"},
            "action": "noted", "event": event, "correlation_id": chain,
            "entity": {"type": "setting", "id": "platform", "label": "Platform"}})
        assert status == 201, body
        return body["id"]

    record("Chain begins")
    opened = record("Chain goes on")
    page = open_page(f"/?entry={opened}", org=retry_org, token=riley(api_stack))
    items = page.get_by_role("dialog").get_by_role("region", name="Related").get_by_role("listitem")
    expect()(items).to_have_count(2)
    record("Chain ends, after the panel opened")
    expect()(items).to_have_count(3, timeout=15_000)
    expect()(items.nth(2)).to_contain_text("Chain ends, after the panel opened")


def test_a_job_retry_cannot_run_says_where_to_re_run_it_and_a_success_has_no_retry(open_page, api_stack, retry_org):
    page = open_page("/", org=retry_org, token=riley(api_stack))
    settled(page)
    page.get_by_role("row", name=re.compile("IMPORT_CONTACTS.*FAILED")).first.click()
    panel = page.get_by_role("dialog")
    expect()(panel.get_by_role("note").filter(has_text="Retry:")).to_have_text(
        "Retry: IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page")
    assert panel.get_by_role("button", name="Retry").count() == 0

    page.get_by_role("row", name=re.compile("PROCESS_RELEASE_PAYMENTS.*SUCCESS")).first.click()
    expect()(panel.get_by_role("heading", level=2)).to_have_text(re.compile("PROCESS_RELEASE_PAYMENTS"))
    assert panel.get_by_role("button", name="Retry").count() == 0
    assert panel.get_by_role("note").filter(has_text="Retry:").count() == 0


def test_a_reader_without_the_retry_scope_gets_no_retry_button_and_is_told_why(open_page, api_stack, retry_org):
    page = open_page("/", org=retry_org, token=api_stack.token(ORG, "u_23", scopes=["read"], name="Jordan Lee"))
    settled(page)
    page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK.*FAILED")).first.click()
    panel = page.get_by_role("dialog")
    expect()(panel.get_by_role("note").filter(has_text="Retry:")).to_have_text(
        "Retry: your sign-in may not retry jobs (it needs activity:retry).")
    assert panel.get_by_role("button", name="Retry").count() == 0
