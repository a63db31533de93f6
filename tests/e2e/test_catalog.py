"""GET /catalog through the local stack (issue 22, item 2): the gateway's scopes, the route to the query function,
and a name the record function has just written counted from the table's stream by the archive function, shown
to its own org only."""

from __future__ import annotations

import pytest

from tests.support.entries import NOW, entry, iso
from tests.support.stack import wait_for

pytestmark = pytest.mark.e2e


def test_the_catalogue_names_what_the_org_just_recorded_to_its_readers_only(api_stack):
    writer = api_stack.token("org_e2e_catalog", scopes=["write"])
    status, recorded = api_stack.request("POST", "/activities", writer, entry(action="archived", occurred_at=iso(NOW)))
    assert status == 201, recorded

    # Counted off the write path (the archive function reads the stream): the reader sees it with its count and time
    def counted():
        status, answer = api_stack.request("GET", "/catalog", api_stack.token("org_e2e_catalog", scopes=["read"]))
        assert status == 200, answer
        return answer if answer["actions"] else None

    answer = wait_for(counted, timeout=30)
    assert {"type": "USER_ACTION", "action": "archived", "count": 1, "last_seen": recorded["occurred_at"]} in answer["actions"]
    assert {"value": "WEBHOOK", "label": "Webhook"} in answer["types"] and answer["job_types"]
    # Another org's reader never sees it; a writer's token is refused by the gateway; a bad parameter is named
    status, other = api_stack.request("GET", "/catalog", api_stack.token("org_e2e_catalog_other", scopes=["read"]))
    assert status == 200 and other["actions"] == [] and other["events"] == []
    assert api_stack.request("GET", "/catalog", writer)[0] == 403
    status, refused = api_stack.request("GET", "/catalog?type=NOPE", api_stack.token("org_e2e_catalog", scopes=["support"]))
    assert (status, refused.get("field")) == (400, "type"), refused
