"""Retry all on the Activity Logs page, in Debian's Chromium, through the session's local stack: the preview,
the bulk retry's state machine (moto's interpreter on infra/statemachines/bulk_retry.asl.json, its Map invoking
the worker), the job handler's runs, and each original's outcome on its row.

Given three failed Square syncs and a one-time import failing in one org, when a team member allowed to retry
filters the failed background jobs and presses Retry all, then the preview says 3 of 4 can be retried and why
not the fourth; confirmed, the page follows the bulk retry to its end; and each retried original's row says its
retry succeeded, while the import's row says nothing of a retry. A reader sees no Retry all at all.
"""

from __future__ import annotations

import re
import time

import pytest

from activitylog_local.client import HttpClient
from tests.support.page import expect, settled

pytestmark = pytest.mark.e2e

ORG = "org_e2e_bulk_retry"
SYSTEM = {"kind": "system", "id": "system", "name": "system"}


def failure(job: str, n: int) -> dict:
    return {"type": "BACKGROUND_JOB", "status": "FAILED", "actor": SYSTEM, "action": "synced", "event": job,
            "entity": {"type": "integration", "id": f"int_square_{n}", "label": "Square"},
            "metadata": {"job": job, "params": {"location_ids": [f"L{n}"]}},
            "error": {"message": "Square API returned 503", "type": "ApiException"}}


def test_retry_all_previews_runs_and_each_original_shows_its_outcome(open_page, api_stack):
    writer = HttpClient(api_stack.url, api_stack.token(ORG, "svc_e2e_seed", scopes=("read", "write")))
    documents = [failure("SYNC_SQUARE_STOCK", n) for n in range(3)] + [failure("IMPORT_CONTACTS", 3)]
    status, answer = writer.request("POST", "/activities/batch", {"entries": documents})
    assert status == 200, answer
    syncs = [result["id"] for result in answer["results"][:3]]

    reader = open_page("/?type=BACKGROUND_JOB&status=FAILED", org=ORG)
    settled(reader)
    expect()(reader.get_by_role("button", name="Export CSV")).to_be_visible()
    assert reader.get_by_role("button", name="Retry all…").count() == 0  # no activity:retry: no Retry all

    riley = api_stack.token(ORG, "u_17", scopes=["read", "retry"], name="Riley Park")
    page = open_page("/?type=BACKGROUND_JOB&status=FAILED", org=ORG, token=riley)
    settled(page)
    page.get_by_role("button", name="Retry all…").click()
    region = page.get_by_role("region", name="Retry all")
    expect()(region).to_contain_text("4 entries match this view; 3 can be retried.")
    expect()(region.get_by_role("list", name="Not retried")).to_contain_text(
        "1 not retried: IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page")

    region.get_by_role("button", name="Retry all 3").click()
    expect()(region).to_contain_text("Retried: 3 of 4 started, 1 skipped.", timeout=30_000)

    api = HttpClient(api_stack.url, riley)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # each run reports its end through the event bus
        outcomes = [api.request("GET", f"/activities/{original}")[1].get("retried", {}).get("status") for original in syncs]
        if outcomes == ["SUCCESS"] * 3:
            break
        time.sleep(0.5)
    assert outcomes == ["SUCCESS"] * 3, outcomes

    page.reload()
    settled(page)
    for row in page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK.*FAILED")).all():
        expect()(row.get_by_role("link", name=re.compile(r"^Retried · succeeded"))).to_be_visible()
    expect()(page.get_by_role("row", name=re.compile("IMPORT_CONTACTS.*FAILED")).locator("a.retried")).to_have_count(0)
    status, listed = api.request("GET", "/retries")
    assert status == 200 and [(b["status"], b["started"], b["requested_by"]["id"]) for b in listed["items"]] == [("DONE", 3, "u_17")]
