"""A fourth webhook provider, plugged in from one module, through ``activitylog serve`` over HTTP.

Given a stack whose template parameter ``WebhookProviderModules`` names ``tests.providers.acme``
(one module: its check, identity, entry mapping and signing), when Acme delivers an event signed
as Acme signs it, then it is one WEBHOOK entry shown as Acme's, its signature header (named like
no signature) is kept out of the entry, and a forgery is refused, as for the built-in providers.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.kit import HttpClient
from tests.e2e.conftest import ROOT, _start, _stop, wait_for
from tests.providers import acme

pytestmark = pytest.mark.e2e

EXTRA = "WEBHOOK_PROVIDER_MODULES"


@pytest.fixture(scope="module")
def acme_stack(tmp_path_factory):
    """template.yaml's stack with Acme plugged in (its functions import it from this tree)."""
    before = {name: os.environ.get(name) for name in ("PYTHONPATH", EXTRA)}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), before["PYTHONPATH"]]))
    os.environ[EXTRA] = acme.__name__  # the CLI's ``secrets set --provider`` choices come from the register too
    try:
        stack = _start(tmp_path_factory.mktemp("acme-stack"), "--no-seed", "--poll-seconds", "0.2",
                       "--parameter", f"WebhookProviderModules={acme.__name__}")
        yield stack
        _stop(stack)
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_a_fourth_provider_from_one_module_is_verified_queued_and_recorded_as_its_own(acme_stack):
    org, secret = f"org_acme_{uuid.uuid4().hex[:8]}", "acme_secret_" + uuid.uuid4().hex
    made = acme_stack.cli("secrets", "set", "--org", org, "--provider", "acme", "--value", secret)
    assert made.returncode == 0, made.stderr
    path = f"/webhooks/acme/{org}"
    event = acme.provider.sample_event("acme_evt_" + uuid.uuid4().hex[:10], "shipment.lost",
                                       datetime.now(timezone.utc) - timedelta(minutes=3))
    body = json.dumps(event).encode()
    headers = {"content-type": "application/json"} | acme.provider.sign(secret, body, acme_stack.url + path)

    status, _, answer = HttpClient(acme_stack.url).send("POST", path, body, headers)
    assert (status, json.loads(answer)) == (200, {"received": True, "event_id": event["uuid"]})
    forged = headers | {"x-acme-mac": "0" * 64}
    assert HttpClient(acme_stack.url).send("POST", path, body, forged)[0] == 400

    reader = acme_stack.token(org, "u_reader", scopes=("read",))

    def recorded():
        status, page = acme_stack.request("GET", "/activities?type=WEBHOOK", reader)
        return page["items"] if status == 200 and page["items"] else None

    (entry,) = wait_for(recorded, timeout=30)
    assert entry["actor"] == {"kind": "external", "id": "acme", "name": "Acme"}
    assert (entry["status"], entry["event"], entry["action"]) == ("WARNING", "shipment.lost", "lost")
    assert entry["entity"] == {"type": "fulfillment", "id": event["shipment"]["ref"], "label": f"Acme {event['shipment']['ref']}"}
    status, detail = acme_stack.request("GET", f"/activities/{entry['id']}", reader)
    assert status == 200, detail
    kept = detail["metadata"]["webhook"]
    assert kept["event_id"] == event["uuid"] and kept["signature_verified"] is True
    assert kept["request"]["headers"]["x-acme-mac"] != headers["x-acme-mac"]  # erased: only the register names it
    assert headers["x-acme-mac"] not in json.dumps(detail)
