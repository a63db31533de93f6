"""Webhooks through ``activitylog serve`` over HTTP: signed deliveries in, WEBHOOK entries out.

Given the served template (the webhook and ingest functions, the queue and its DLQ on moto,
DynamoDB Local) and secrets set with ``activitylog secrets set``, when Stripe, Square and FedEx
deliveries arrive signed as each provider signs them (the test kit; Stripe's own signer),
then each event is one entry however often and however concurrently it arrives, forgeries are
refused and show as SYSTEM_EVENT warnings, nothing secret is kept, an oversized body is
recorded whole, and a write the table refuses comes back, or waits in the DLQ until
``activitylog redrive`` puts it back.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.kit import HttpClient, provider_event, signed_delivery
from tests.support.stack import wait_for

pytestmark = pytest.mark.e2e

SECRETS = {"stripe": "whsec_e2e_{org}", "square": "sq_sig_key_{org}", "fedex": "fdx_token_{org}"}
NOW = datetime.now(timezone.utc)


@pytest.fixture
def org(api_stack):
    """A fresh org with a signing secret for each provider, set the way a developer sets it."""
    name = f"org_hook_{uuid.uuid4().hex[:8]}"
    for provider, secret in SECRETS.items():  # the CLI's own command in this process (test_webhook_recovery.py runs it as a command)
        code, printed = api_stack.cli_here("secrets", "set", "--org", name, "--provider", provider, "--value", secret.format(org=name))
        assert code == 0 and f"POST {api_stack.url}/webhooks/{provider}/{name}" in printed, printed
    return name


def deliver(stack, provider: str, org: str, event, secret: str | None = None, extra_headers: dict | None = None, **kwargs):
    """POST one delivery, signed with the org's secret (or ``secret``); (status, answer)."""
    path = f"/webhooks/{provider}/{org}"
    body, headers = signed_delivery(provider, secret or SECRETS[provider].format(org=org), event, stack.url + path, **kwargs)
    status, _, answer = HttpClient(stack.url).send("POST", path, body, {**headers, **(extra_headers or {})})
    return status, json.loads(answer)


def entries(stack, org: str, type_: str = "WEBHOOK") -> list[dict]:
    reader = stack.token(org, "u_reader", scopes=("read",))
    status, page = stack.request("GET", f"/activities?type={type_}&from={(NOW - timedelta(days=2)).strftime('%Y-%m-%dT%H:%M:%SZ')}&limit=200", reader)
    assert status == 200, page
    return page["items"]


def detail(stack, org: str, entry_id: str) -> dict:
    status, answer = stack.request("GET", f"/activities/{entry_id}", stack.token(org, "u_reader", scopes=("read",)))
    assert status == 200, answer
    return answer


def queue(stack, name: str = "WebhookQueue") -> dict:
    return stack.request("GET", f"/_local/queues/{name}")[1]


def settled(stack) -> None:
    """Until the ingest has taken every queued delivery."""
    wait_for(lambda: (lambda q: q["visible"] == 0 and q["in_flight"] == 0)(queue(stack)), timeout=30)


def test_a_stripe_cli_style_delivery_is_one_entry_a_replay_changes_nothing_and_a_forgery_is_a_warning(api_stack, org):
    event = provider_event("stripe", "evt_e2e_" + uuid.uuid4().hex[:12], "payment_intent.succeeded", NOW - timedelta(minutes=3), amount=15600)
    status, answer = deliver(api_stack, "stripe", org, event)
    assert (status, answer) == (200, {"received": True, "event_id": event["id"]})
    (entry,) = wait_for(lambda: entries(api_stack, org))
    assert (entry["type"], entry["status"], entry["event"], entry["actor"]) == (
        "WEBHOOK", "SUCCESS", "payment_intent.succeeded", {"kind": "external", "id": "stripe", "name": "Stripe"})
    assert entry["entity"] == {"type": "payment", "id": event["data"]["object"]["id"], "label": "156.00 USD"}
    assert entry["occurred_at"].startswith((NOW - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S")[:16])
    full = detail(api_stack, org, entry["id"])
    assert full["source"] == {"provider": "stripe", "event_id": event["id"]}
    assert full["metadata"]["webhook"]["request"]["body"] == json.loads(json.dumps(event))
    assert full["metadata"]["webhook"]["request"]["headers"]["stripe-signature"] == "*****"

    assert deliver(api_stack, "stripe", org, event)[0] == 200  # Stripe retries; or someone replays it
    settled(api_stack)
    assert entries(api_stack, org) == [entry] and detail(api_stack, org, entry["id"]) == full

    status, answer = deliver(api_stack, "stripe", org, event | {"id": "evt_forged"}, secret="whsec_not_theirs")
    assert (status, answer) == (400, {"message": "signature does not match", "field": "stripe-signature"})
    (warning,) = entries(api_stack, org, "SYSTEM_EVENT")
    assert (warning["status"], warning["event"]) == ("WARNING", "Webhook rejected · Stripe: signature does not match")
    settled(api_stack)
    assert entries(api_stack, org) == [entry]


@pytest.mark.parametrize("case, status, field", [
    ("tampered body", 400, "stripe-signature"),
    ("stale timestamp", 400, "stripe-signature"),
    ("another org's secret", 400, "stripe-signature"),
    ("no signature", 400, "stripe-signature"),
    ("signed body that is no event", 400, "body"),
    ("unknown provider", 404, "provider"),
    ("org without a secret", 404, "org_id"),
])
def test_a_delivery_that_is_not_authentic_records_no_webhook_entry(api_stack, org, case, status, field):
    event = provider_event("stripe", "evt_" + uuid.uuid4().hex[:12], "charge.succeeded")
    path, url = f"/webhooks/stripe/{org}", f"{api_stack.url}/webhooks/stripe/{org}"
    body, headers = signed_delivery("stripe", SECRETS["stripe"].format(org=org), event, url)
    if case == "tampered body":
        body = body.replace(b"4200", b"1")
    elif case == "stale timestamp":
        body, headers = signed_delivery("stripe", SECRETS["stripe"].format(org=org), event, url, timestamp=int(time.time()) - 301)
    elif case == "another org's secret":
        body, headers = signed_delivery("stripe", SECRETS["stripe"].format(org="org_someone_else"), event, url)
    elif case == "no signature":
        del headers["stripe-signature"]
    elif case == "signed body that is no event":
        body, headers = signed_delivery("stripe", SECRETS["stripe"].format(org=org), {"hello": "world"}, url)
    elif case == "unknown provider":
        path = f"/webhooks/paypal/{org}"
    elif case == "org without a secret":
        path = "/webhooks/stripe/org_never_set_up"
    answered, _, answer = HttpClient(api_stack.url).send("POST", path, body, headers)
    assert (answered, json.loads(answer)["field"]) == (status, field), answer
    settled(api_stack)
    assert entries(api_stack, org) == []
    refusals = entries(api_stack, org, "SYSTEM_EVENT")
    assert len(refusals) == (1 if status == 400 else 0)  # a 404 names no org that could be told


def test_square_and_fedex_deliveries_are_recorded_with_their_own_scheme_entity_and_status(api_stack, org):
    square = provider_event("square", "sq_" + uuid.uuid4().hex, "payment.updated", NOW - timedelta(minutes=9), status="FAILED")
    fedex = provider_event("fedex", "fx_" + uuid.uuid4().hex, "DE", NOW - timedelta(minutes=8), tracking_number="612345678901")
    assert deliver(api_stack, "square", org, square)[0] == 200
    assert deliver(api_stack, "fedex", org, fedex)[0] == 200
    listed = wait_for(lambda: (lambda found: found if len(found) == 2 else None)(entries(api_stack, org)))
    by_actor = {e["actor"]["name"]: e for e in listed}
    assert (by_actor["Square"]["event"], by_actor["Square"]["status"], by_actor["Square"]["entity"]["type"]) == ("payment.updated", "WARNING", "payment")
    assert (by_actor["FedEx"]["event"], by_actor["FedEx"]["status"]) == ("DE · Delivery exception", "WARNING")
    assert by_actor["FedEx"]["entity"] == {"type": "fulfillment", "id": "612345678901", "label": "FedEx 612345678901"}
    headers = detail(api_stack, org, by_actor["Square"]["id"])["metadata"]["webhook"]["request"]["headers"]
    assert headers["x-square-hmacsha256-signature"] == "*****"


def test_the_same_event_delivered_from_eight_threads_at_once_is_one_entry(api_stack, org):
    event = provider_event("stripe", "evt_race_" + uuid.uuid4().hex[:10], "invoice.paid", NOW - timedelta(minutes=4))
    path, url = f"/webhooks/stripe/{org}", f"{api_stack.url}/webhooks/stripe/{org}"
    body, headers = signed_delivery("stripe", SECRETS["stripe"].format(org=org), event, url)
    start = threading.Barrier(8)

    def send(_):
        start.wait()
        return HttpClient(api_stack.url).send("POST", path, body, headers)[0]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(send, range(8))) == [200] * 8
    settled(api_stack)
    (entry,) = entries(api_stack, org)
    assert entry["event"] == "invoice.paid"
    assert api_stack.request("GET", "/_local/stack")[1]["functions"]["WebhookFunction"]["environments"] > 1  # they ran in parallel


def test_out_of_order_deliveries_are_listed_where_they_happened(api_stack, org):
    times = [NOW - timedelta(minutes=m) for m in (50, 40, 30)]
    events = [provider_event("fedex", f"fx_{n}_{uuid.uuid4().hex[:6]}", code, when) for n, (code, when) in
              enumerate(zip(("PU", "IT", "DL"), times))]
    for event in (events[2], events[0], events[1]):  # delivered: delivered, picked up, in transit
        assert deliver(api_stack, "fedex", org, event)[0] == 200
    listed = wait_for(lambda: (lambda found: found if len(found) == 3 else None)(entries(api_stack, org)))
    assert [e["event"].split(" ")[0] for e in listed] == ["DL", "IT", "PU"]  # newest first by the provider's time


def test_a_body_over_256_kb_goes_through_s3_and_is_recorded_whole(api_stack, org):
    notes = "".join(f"bottle {n:06d}: Spring 2026 Reds, allocation list\n" for n in range(8000))  # ~390 KB
    event = provider_event("stripe", "evt_big_" + uuid.uuid4().hex[:8], "charge.succeeded", NOW - timedelta(minutes=2), metadata={"notes": notes})
    assert deliver(api_stack, "stripe", org, event)[0] == 200
    (entry,) = wait_for(lambda: entries(api_stack, org))
    kept = detail(api_stack, org, entry["id"])["metadata"]["webhook"]["request"]["body"]
    assert kept["data"]["object"]["metadata"]["notes"] == notes


def test_every_listed_secret_is_redacted_from_what_the_entry_keeps(api_stack, org):
    secrets = {"pan": "4242 4242 4242 4242", "pan_dashed": "5555-5555-5555-4444", "amex": "378282246310005", "cvc": "737",
               "account": "000123456789", "iban": "DE89370400440532013000", "bearer": "Bearer sk_live_e2e_secret", "cookie": "session=e2e"}
    event = provider_event("stripe", "evt_red_" + uuid.uuid4().hex[:8], "charge.succeeded", NOW - timedelta(minutes=1),
                           payment_method_details={"card": {"number": secrets["pan"], "cvc": secrets["cvc"], "last4": "4242"}},
                           bank_account={"account_number": secrets["account"], "iban": secrets["iban"], "routing_number": "110000000"},
                           description=f"card {secrets['pan_dashed']} / {secrets['amex']} given by phone")
    assert deliver(api_stack, "stripe", org, event, extra_headers={"authorization": secrets["bearer"], "cookie": secrets["cookie"]})[0] == 200
    (entry,) = wait_for(lambda: entries(api_stack, org))
    full = detail(api_stack, org, entry["id"])
    kept = json.dumps(full)
    for name, value in secrets.items():
        # A 3-digit CVC may occur in any id or timestamp by chance: it is checked by its field below.
        assert len(value) < 8 or value not in kept, name
    request = full["metadata"]["webhook"]["request"]
    assert {request["headers"][h] for h in ("stripe-signature", "authorization")} == {"*****"}  # cookies: not kept at all
    card = request["body"]["data"]["object"]["payment_method_details"]["card"]
    assert card == {"number": "************4242", "cvc": "*****", "last4": "4242"}
    assert request["body"]["data"]["object"]["description"] == "card ************4444 / ***********0005 given by phone"
    assert request["body"]["data"]["object"]["bank_account"]["routing_number"] == "110000000"


def test_cards_beside_other_digits_and_secret_fields_in_any_case_are_not_kept_and_the_raw_bytes_are_named(api_stack, org):
    """Issue 18, items 6, 7, 9: the reviewer's texts and field names, through the receiver, the queue and the ingest."""
    import hashlib

    event = provider_event("stripe", "evt_beside_" + uuid.uuid4().hex[:8], "charge.succeeded", NOW - timedelta(minutes=1),
                           description="card 4242424242424242 123 · 4111 1111 1111 1111 12/27 · qty 2 4242 4242 4242 4242 · "
                                       "amex 378282246310005 1234 · 5555555555554444 737",
                           payment_method_details={"card": {"Cvc": "9871", "AccountNumber": "000123456789", "Iban": "DE89370400440532013000",
                                                            "card-number": "4000056655665556", "Password": "hunter2-e2e", "last4": "5556"}})
    path = f"/webhooks/stripe/{org}"
    body, headers = signed_delivery("stripe", SECRETS["stripe"].format(org=org), event, api_stack.url + path)
    assert HttpClient(api_stack.url).send("POST", path, body, headers)[0] == 200
    (entry,) = wait_for(lambda: entries(api_stack, org))
    webhook = detail(api_stack, org, entry["id"])["metadata"]["webhook"]
    kept = webhook["request"]["body"]["data"]["object"]
    assert kept["description"] == ("card ************4242 123 · ************1111 12/27 · qty 2 ************4242 · "
                                   "amex ***********0005 1234 · ************4444 737")
    assert kept["payment_method_details"]["card"] == {"Cvc": "*****", "AccountNumber": "*****", "Iban": "*****", "card-number": "*****",
                                                      "Password": "*****", "last4": "5556"}
    assert webhook["signature_verified"] is True
    assert (webhook["request"]["body_bytes"], webhook["request"]["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


def test_an_outgoing_webhooks_url_keeps_no_credentials(api_stack):
    """Issue 18, item 8."""
    writer = api_stack.token("org_outgoing", "svc_webhooks", scopes=("write",))
    document = outgoing("FAILED", 401, url="https://woo:s3cret@hooks.example.com/int_woo/orders?token=abc&api_key=k&id=7")
    created, entry = api_stack.request("POST", "/activities", writer, document)
    assert created == 201, entry
    assert entry["metadata"]["webhook"]["url"] == "https://*****@hooks.example.com/int_woo/orders?token=*****&api_key=*****&id=7"


def test_a_write_the_table_refuses_is_retried_and_then_recorded_once(api_stack, org):
    armed = api_stack.request("POST", "/_local/faults", body={
        "function": "IngestFunction", "operations": ["PutItem", "TransactWriteItems"], "error": "TransactionConflict", "times": 5})
    assert armed[0] == 201, armed
    event = provider_event("stripe", "evt_retry_" + uuid.uuid4().hex[:8], "charge.succeeded", NOW - timedelta(minutes=2))
    assert deliver(api_stack, "stripe", org, event)[0] == 200
    (entry,) = wait_for(lambda: entries(api_stack, org), timeout=30)
    assert api_stack.request("GET", "/_local/faults")[1]["plans"] == []  # the first attempt met all five refusals
    settled(api_stack)
    assert entries(api_stack, org) == [entry] and queue(api_stack, "WebhookDeadLetters")["visible"] == 0


def test_a_poison_message_and_an_unwritable_event_reach_the_dlq_and_redrive_puts_them_back(api_stack, org):
    api_stack.request("POST", "/_local/faults", body={
        "function": "IngestFunction", "operations": ["PutItem", "TransactWriteItems"], "error": "TransactionConflict", "times": 1000})
    try:
        event = provider_event("fedex", "fx_dlq_" + uuid.uuid4().hex[:8], "DL", NOW - timedelta(minutes=5))
        assert deliver(api_stack, "fedex", org, event)[0] == 200
        assert api_stack.request("POST", "/_local/queues/WebhookQueue/messages", body={"body": "{not a delivery"})[0] == 201
        # Five receives, backing off 1, 2, 4, 8 s: then SQS moves each to the dead-letter queue.
        wait_for(lambda: queue(api_stack, "WebhookDeadLetters")["visible"] == 2, timeout=60, interval=0.5)
        assert entries(api_stack, org) == [] and queue(api_stack)["visible"] == 0
    finally:
        api_stack.request("DELETE", "/_local/faults")  # the table is back

    moved = api_stack.cli("redrive")
    assert moved.returncode == 0, moved.stderr
    assert "WebhookDeadLetters: 2 messages moved back to WebhookQueue" in moved.stdout
    (entry,) = wait_for(lambda: entries(api_stack, org), timeout=30)
    assert (entry["event"], entry["status"]) == ("DL · Delivered", "SUCCESS")


def test_secrets_set_refuses_an_unknown_provider_and_a_bad_org_in_one_line(api_stack):
    unknown = api_stack.cli("secrets", "set", "--org", "org_x", "--provider", "paypal", "--value", "v")
    assert unknown.returncode == 2 and "invalid choice: 'paypal'" in unknown.stderr
    bad = api_stack.cli("secrets", "set", "--org", "org/../x", "--provider", "stripe", "--value", "v")
    assert bad.returncode == 1 and bad.stderr.startswith("activitylog: --org 'org/../x'") and bad.stderr.count("\n") == 1


# --- outgoing webhooks: the platform calling out, recorded through POST /activities -------------------------


def outgoing(status: str, code: int | None, **webhook) -> dict:
    delivery = {"direction": "outgoing", "url": "https://hooks.example.com/int_woo/orders", "method": "POST",
                "request_headers": {"content-type": "application/json", "authorization": "Bearer woo_secret_token",
                                    "x-platform-signature": "sha256=abcdef"},
                "request_body": {"topic": "order.created", "order": {"id": 3981, "card_number": "4111 1111 1111 1111"}},
                "response": None if code is None else {"status_code": code, "headers": {"content-type": "text/plain"},
                                                       "body": "ok" if code < 300 else f"upstream answered {code}"},
                "duration_ms": 412, "attempt": 2, **webhook}
    return {"type": "WEBHOOK", "status": status, "action": "sent", "event": "Webhook sent · order.created → WooCommerce",
            "actor": {"kind": "system", "id": "system", "name": "system"},
            "entity": {"type": "integration", "id": "int_woo", "label": "WooCommerce"}, "webhook": delivery}


@pytest.mark.parametrize("status, code", [("SUCCESS", 200), ("WARNING", 503), ("FAILED", 410), ("WARNING", None), ("FAILED", None)])
def test_an_outgoing_webhook_is_recorded_with_its_target_bodies_status_code_and_duration(api_stack, status, code):
    writer = api_stack.token("org_outgoing", "svc_webhooks", scopes=("write",))
    created, entry = api_stack.request("POST", "/activities", writer, outgoing(status, code))
    assert created == 201, entry
    kept = entry["metadata"]["webhook"]
    assert (kept["direction"], kept["url"], kept["method"], kept["status_code"], kept["duration_ms"], kept["attempt"]) == (
        "outgoing", "https://hooks.example.com/int_woo/orders", "POST", code, 412, 2)
    assert kept["request"]["body"]["order"] == {"id": 3981, "card_number": "*****"}
    assert kept["request"]["headers"] == {"content-type": "application/json", "authorization": "*****", "x-platform-signature": "*****"}
    assert kept["response"] == (None if code is None else {"status_code": code, "headers": {"content-type": "text/plain"},
                                                           "body": "ok" if code < 300 else f"upstream answered {code}"})
    assert entry["status"] == status and api_stack.request("GET", f"/activities/{entry['id']}", writer)[1] == entry


@pytest.mark.parametrize("document, field", [
    (outgoing("SUCCESS", 500), "status"),
    (outgoing("FAILED", 204), "status"),
    (outgoing("SUCCESS", None), "status"),
    (outgoing("IN_PROGRESS", None), "status"),
    (outgoing("SUCCESS", 200) | {"type": "USER_ACTION", "actor": {"kind": "user", "id": "u_1", "name": "Ann"}}, "webhook"),
    (outgoing("SUCCESS", 200, url="ftp://hooks.example.com/x"), "webhook.url"),
    (outgoing("SUCCESS", 200, direction="incoming"), "webhook.direction"),
    (outgoing("SUCCESS", 200, duration_ms=-1), "webhook.duration_ms"),
    (outgoing("SUCCESS", 200) | {"metadata": {"webhook": {}}}, "metadata.webhook"),
])
def test_an_outgoing_webhook_that_contradicts_itself_is_a_400_naming_the_field(api_stack, document, field):
    writer = api_stack.token("org_outgoing", "svc_webhooks", scopes=("write",))
    status, answer = api_stack.request("POST", "/activities", writer, document)
    assert (status, answer.get("field")) == (400, field), answer


def test_the_openapi_document_describes_the_outgoing_webhook_and_the_webhook_route(api_stack):
    document = api_stack.request("GET", "/openapi.json")[1]
    schemas = document["components"]["schemas"]
    webhook = schemas["OutgoingWebhook"]
    assert {"direction", "url", "request_body", "response", "duration_ms"} <= set(webhook["properties"])
    assert set(webhook["required"]) == {"direction", "url", "duration_ms"}
    assert "webhook" in schemas["NewEntry"]["properties"]
    route = document["paths"]["/webhooks/{provider}/{org_id}"]["post"]
    assert route["security"] == [] and set(route["responses"]) == {"200", "400", "404", "413", "503"}


def test_a_non_ascii_stripe_signature_is_a_400_with_a_rejection_entry_not_a_500(api_stack, org):
    event = provider_event("stripe", "evt_e2e_odd_" + uuid.uuid4().hex[:8], "charge.succeeded", NOW - timedelta(minutes=1))
    status, answer = deliver(api_stack, "stripe", org, event, extra_headers={"Stripe-Signature": "t=1,v1=ü"})
    assert (status, answer) == (400, {"message": "malformed stripe-signature header", "field": "stripe-signature"})
    (warning,) = wait_for(lambda: entries(api_stack, org, "SYSTEM_EVENT"))
    assert warning["event"] == "Webhook rejected · Stripe: malformed stripe-signature header"


def test_an_org_id_with_characters_ssm_cannot_name_holds_its_secret_and_receives_webhooks(api_stack):
    org = f"org:e2e@{uuid.uuid4().hex[:6]}+x=y"
    made = api_stack.cli("secrets", "set", "--org", org, "--provider", "stripe", "--value", SECRETS["stripe"].format(org=org))
    assert made.returncode == 0, made.stderr
    name = made.stdout.split("(", 1)[1].split(")", 1)[0]
    assert name.startswith("/") and "/encoded/" in name and not set(name) - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")
    event = provider_event("stripe", "evt_e2e_org_" + uuid.uuid4().hex[:8], "charge.succeeded", NOW - timedelta(minutes=1))
    assert deliver(api_stack, "stripe", org, event)[0] == 200
    (entry,) = wait_for(lambda: entries(api_stack, org))
    assert entry["event"] == "charge.succeeded"
