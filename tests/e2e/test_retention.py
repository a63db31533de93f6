"""A retention change applied to the entries that existed before it, through the served stack: the policy item's
write reaches the retention function through the table's stream, the streams' fan-out (the stream's second reader)
and the RetentionChanges FIFO queue, and each chunk's progress brings the next, until the change is done."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from activitylog import ids
from tests.support.stack import wait_for

pytestmark = pytest.mark.e2e

ORG = "org_e2e_retention"
DAY = 86400


def test_a_shorter_hot_period_restamps_every_existing_entry_through_the_fanout_and_the_queue(api_stack):
    admin = api_stack.token(ORG, "u_admin", name="Morgan Admin", scopes=("admin",))
    writer = api_stack.token(ORG, "svc_jobs", scopes=("read", "write"))
    now = datetime.now(timezone.utc)
    written = []
    for days in (1, 10, 40):
        status, created = api_stack.request("POST", "/activities", writer, body={
            "type": "BACKGROUND_JOB", "status": "SUCCESS", "action": "synced", "event": "SYNC_SQUARE_STOCK",
            "actor": {"kind": "system", "id": "system", "name": "system"},
            "occurred_at": (now - timedelta(days=days)).isoformat(),
            "entity": {"type": "job", "id": f"job_{days}", "label": "Square stock sync"}})
        assert status == 201, created
        written.append(created)
    assert all(e["expires_at"] > int(ids.occurred_at(e["id"]).timestamp()) + 90 * DAY for e in written)

    # The stack's table holds 90 days (HotTableDays), so entries expire from it a week after that; now at 90 days.
    status, changed = api_stack.request("PUT", "/settings/retention", admin, body={"hot_days": 90})
    assert status == 200 and changed["existing"]["state"] == "pending", changed

    # The re-stamp starts once every writer has the new period (RetentionCacheSeconds), then runs to the end.
    def done():
        status, policy = api_stack.request("GET", "/settings/retention", admin)
        return policy if status == 200 and policy["existing"]["state"] == "done" else None

    policy = wait_for(done, timeout=120)
    assert policy["existing"]["entries_updated"] == len(written), policy
    for e in written:
        status, stored = api_stack.request("GET", f"/activities/{e['id']}", writer)
        assert status == 200 and stored["expires_at"] == int(ids.occurred_at(e["id"]).timestamp()) + 90 * DAY, stored
