"""A retried failure and why each failure is so, on the Activity Logs page, in Debian's Chromium.

Given the demo org (its SYNC_SQUARE_STOCK failure, its one-time syncs failing today, warnings) and a team
member allowed to retry, when they retry the failure and come back to it, then its row and its detail
say the retry succeeded with a link to the run, and pressing Retry again asks first (Cancel runs
nothing); and every FAILED and WARNING row opens to its reason.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest

from activitylog_local.client import HttpClient
from activitylog_local.demo import demo_entries, seed
from tests.support.page import expect, settled

pytestmark = pytest.mark.e2e

ORG = "org_e2e_retried"


@pytest.fixture(scope="module")
def demo_org(api_stack):
    writer = HttpClient(api_stack.url, api_stack.token(ORG, "svc_e2e_seed", scopes=("read", "write")))
    seed(writer, demo_entries(datetime.now(timezone.utc), count=20, days=1))
    return ORG


def test_every_failure_and_warning_opens_to_its_reason(open_page, api_stack, demo_org):
    page = open_page("/?status=FAILED,WARNING", org=demo_org)
    settled(page)
    rows = page.locator("#rows tr")
    events = [rows.nth(n).locator("td.event").inner_text() for n in range(rows.count())]
    assert {"INITIAL_SQUARE_IMPORT", "IMPORT_CONTACTS", "SYNC_SQUARE_STOCK", "payment_intent.payment_failed"} <= set(events)
    panel = page.get_by_role("dialog")
    for n, event in enumerate(events):
        rows.nth(n).click()
        expect()(panel.get_by_role("heading", level=2)).to_have_text(event)
        reason = panel.locator(".error-message")
        expect()(reason).to_be_visible()
        assert "No reason was recorded" not in reason.inner_text(), event
        if event == "IMPORT_CONTACTS":  # a one-time sync: where to re-trigger it, and no Retry
            expect()(reason).to_contain_text("has no email column")
            expect()(panel.get_by_role("note").filter(has_text="Retry:")).to_contain_text("re-trigger it from its integration page")


def test_a_retried_failure_shows_its_outcome_and_retry_asks_before_a_third_run(open_page, api_stack, demo_org):
    riley = api_stack.token(ORG, "u_17", scopes=["read", "retry"], name="Riley Park")
    page = open_page("/?type=BACKGROUND_JOB&status=FAILED", org=demo_org, token=riley)
    settled(page)
    page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK.*FAILED")).first.click()
    panel = page.get_by_role("dialog")
    original = panel.locator(".facts code").first.inner_text()
    panel.get_by_role("toolbar", name="Entry actions").get_by_role("button", name="Retry").click()
    expect()(panel.get_by_role("link", name=original)).to_be_visible(timeout=30_000)  # the new run, open
    run = panel.locator(".facts code").first.inner_text()

    api = HttpClient(api_stack.url, riley)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the run reports its end through the event bus
        status, entry = api.request("GET", f"/activities/{original}")
        if status == 200 and entry.get("retried", {}).get("status") == "SUCCESS":
            break
        time.sleep(0.5)
    assert entry["retried"]["run_id"] == run, entry

    page.reload()
    settled(page)
    row = page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK.*FAILED")).first
    outcome = row.get_by_role("link", name=re.compile(r"^Retried · succeeded (within a minute|\d+ hrs? later)$"))
    expect()(outcome).to_be_visible()
    row.click()
    expect()(panel.locator(".facts code").first).to_have_text(original)
    note = panel.get_by_role("note").filter(has_text="Retried · succeeded")
    expect()(note).to_be_visible()

    retries: list[str] = []
    page.on("request", lambda request: retries.append(request.url) if request.url.endswith("/retry") else None)
    panel.get_by_role("toolbar", name="Entry actions").get_by_role("button", name="Retry").click()
    question = panel.get_by_role("group", name="Run this job again?")
    expect()(question).to_contain_text("Retried · succeeded")
    expect()(question.get_by_role("button", name="Cancel")).to_be_focused()
    question.get_by_role("button", name="Cancel").click()
    expect()(question).to_have_count(0)
    assert retries == []  # no third run by accident

    note.get_by_role("link").click()  # the run, from the original's outcome
    expect()(panel.locator(".facts code").first).to_have_text(run)
