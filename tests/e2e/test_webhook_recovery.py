"""Missed Stripe webhooks recovered through ``activitylog serve`` over HTTP, from a local fake of Stripe's API.

Given the session's stack, whose template parameter ``ProviderApiBases`` points Stripe at the fake (a real
HTTP server on 127.0.0.1, tests/support/provider_api.py: the session's ``provider_api``), and an org whose signing secret and API key are set with
``activitylog secrets set`` (``--api-key``), when one event was delivered and two others failed, then an admin's
preview counts them, the recovery records the two (the gateway routes ``/recoveries/stripe`` to the
recovery function), and recording again changes nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.kit import HttpClient, provider_event, signed_delivery
from tests.support.stack import wait_for

pytestmark = pytest.mark.e2e


def test_an_admin_previews_then_records_missed_stripe_events_once(provider_api, api_stack):
    api, stack = provider_api, api_stack
    org, secret, key = f"org_rec_{uuid.uuid4().hex[:8]}", "whsec_e2e_" + uuid.uuid4().hex, "rk_test_" + uuid.uuid4().hex
    for extra, value in (((), secret), (("--api-key",), key)):
        made = stack.cli("secrets", "set", "--org", org, "--provider", "stripe", *extra, "--value", value)
        assert made.returncode == 0, made.stderr
    assert f"POST {stack.url}/recoveries/stripe" in made.stdout
    now = datetime.now(timezone.utc)
    events = [provider_event("stripe", f"evt_e2e_{n}_{uuid.uuid4().hex[:6]}", "invoice.payment_failed", now - timedelta(minutes=10 + n))
              for n in range(3)]
    for event in events:
        api.add(key, "stripe", event, delivered=False)
    path = f"/webhooks/stripe/{org}"  # the first one reached us after all
    body, headers = signed_delivery("stripe", secret, events[0], stack.url + path)
    assert HttpClient(stack.url).send("POST", path, body, headers)[0] == 200
    reader = stack.token(org, "u_reader", scopes=("read",))

    def webhook_entries(count: int):
        status, page = stack.request("GET", "/activities?type=WEBHOOK", reader)
        return page["items"] if status == 200 and len(page["items"]) == count else None

    wait_for(lambda: webhook_entries(1), timeout=30)
    admin = stack.token(org, "u_admin", scopes=("admin",), name="Ada Admin")
    window = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()}
    status, preview = stack.request("POST", "/recoveries/stripe", admin, window | {"preview": True})
    assert (status, preview["available"], preview["missing"], preview["already_recorded"]) == (200, 3, 2, 1), preview
    status, answer = stack.request("POST", "/recoveries/stripe", admin, window)
    assert (status, answer["recorded"]) == (200, 2), answer
    recorded = webhook_entries(3)
    assert recorded and sorted(e["event"] for e in recorded) == ["invoice.payment_failed"] * 3
    status, again = stack.request("POST", "/recoveries/stripe", admin, window)
    assert (status, again["recorded"], again["already_recorded"]) == (200, 0, 3)
    assert webhook_entries(3) == recorded
    assert stack.request("POST", "/recoveries/stripe", reader, window)[0] == 403
