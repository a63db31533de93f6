"""Webhook verification, mapping and redaction: pure logic (activitylog.webhooks).

Given deliveries signed as each provider signs (Stripe's own ``generate_signature_header``,
Square's and FedEx's HMACs, built by the test kit), the check accepts exactly the authentic
ones; a verified event maps to the entry the Activity Logs page shows; and nothing secret
reaches what the entry keeps of the request.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from activitylog.inputs import NewEntry
from activitylog.webhooks.mapping import entry_document, redacted_request
from activitylog.webhooks.providers import PROVIDERS, Delivery, Rejected
from activitylog.redaction import redact_body, redact_headers, scrub_text
from tests.support.kit import provider_event, signed_delivery

URL = "https://hooks.example.com/webhooks/{provider}/org_acme"
SECRET = "whsec_unit_test_secret"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def delivery(provider: str, event, secret: str = SECRET, url: str | None = None, **kwargs) -> Delivery:
    url = url or URL.format(provider=provider)
    body, headers = signed_delivery(provider, secret, event, url, **kwargs)
    return Delivery(provider, "org_acme", body, headers, url)


def refusal(provider: str, sent: Delivery, secret: str = SECRET) -> Rejected:
    with pytest.raises(Rejected) as refused:
        PROVIDERS[provider].verify(sent, secret)
    return refused.value


# --- verification ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_delivery_signed_with_the_orgs_secret_verifies(provider):
    PROVIDERS[provider].verify(delivery(provider, provider_event(provider, "evt_1", "DL" if provider == "fedex" else "payment.updated")), SECRET)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_tampered_body_is_refused(provider):
    sent = delivery(provider, provider_event(provider, "evt_1", "DL" if provider == "fedex" else "payment.updated"))
    tampered = Delivery(provider, sent.org, sent.body.replace(b"DL", b"DE").replace(b"evt_1", b"evt_2"), sent.headers, sent.url)
    assert refusal(provider, tampered).reason == "signature does not match"


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_another_orgs_secret_is_refused(provider):
    sent = delivery(provider, provider_event(provider, "evt_1", "DL" if provider == "fedex" else "payment.updated"), secret="whsec_other_org")
    assert refusal(provider, sent).reason == "signature does not match"


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_missing_signature_is_refused_naming_the_header(provider):
    sent = delivery(provider, provider_event(provider, "evt_1", "DL" if provider == "fedex" else "payment.updated"))
    header = PROVIDERS[provider].signature_header
    bare = Delivery(provider, sent.org, sent.body, {k: v for k, v in sent.headers.items() if k != header}, sent.url)
    refused = refusal(provider, bare)
    assert (refused.reason, refused.field) == (f"missing {header} header", header)


def test_a_stripe_signature_older_than_300_seconds_is_refused():
    event = provider_event("stripe", "evt_1", "payment_intent.succeeded")
    assert refusal("stripe", delivery("stripe", event, timestamp=int(time.time()) - 301)).reason == "signature timestamp older than 300 s"
    PROVIDERS["stripe"].verify(delivery("stripe", event, timestamp=int(time.time()) - 280), SECRET)


def test_stripe_accepts_any_of_several_v1_signatures_while_a_secret_is_rolled():
    event = provider_event("stripe", "evt_1", "payment_intent.succeeded")
    old = delivery("stripe", event, secret="whsec_old")
    new = delivery("stripe", event, secret="whsec_new", timestamp=int(old.headers["stripe-signature"].split(",")[0][2:]))
    both = old.headers["stripe-signature"] + "," + new.headers["stripe-signature"].split(",", 1)[1]
    rolled = Delivery("stripe", "org_acme", old.body, {**old.headers, "stripe-signature": both}, old.url)
    PROVIDERS["stripe"].verify(rolled, "whsec_new")
    PROVIDERS["stripe"].verify(rolled, "whsec_old")
    assert refusal("stripe", rolled, "whsec_third").reason == "signature does not match"


def test_a_malformed_stripe_header_is_refused():
    sent = delivery("stripe", provider_event("stripe", "evt_1", "charge.succeeded"))
    for header, reason in (("garbage", "malformed Stripe-Signature header"), ("t=1,v0=ab", "no v1 signature in Stripe-Signature header")):
        refused = refusal("stripe", Delivery("stripe", "o", sent.body, {**sent.headers, "stripe-signature": header}, sent.url))
        assert (refused.reason, refused.field) == (reason, "stripe-signature")


def test_square_signs_the_notification_url_too():
    sent = delivery("square", provider_event("square", "sq_evt_1", "payment.updated"))
    elsewhere = Delivery("square", sent.org, sent.body, sent.headers, sent.url.replace("org_acme", "org_other"))
    assert refusal("square", elsewhere).reason == "signature does not match"


@pytest.mark.parametrize("body, reason", [
    (b"not json", "body is not JSON"), (b"[1, 2]", "body is not a JSON object"), (b'{"type": "charge.succeeded"}', "no event id"),
])
def test_a_verified_body_that_is_no_event_is_refused_naming_the_body(body, reason):
    with pytest.raises(Rejected) as refused:
        PROVIDERS["square"].identity(body)
    assert reason in refused.value.reason and refused.value.field == "body"


def test_each_provider_names_its_event_by_its_own_id_type_and_time():
    when = NOW - timedelta(hours=2)
    stripe_ = PROVIDERS["stripe"].identity(json.dumps(provider_event("stripe", "evt_9", "invoice.paid", when)).encode())[1]
    square = PROVIDERS["square"].identity(json.dumps(provider_event("square", "sq_9", "payment.updated", when)).encode())[1]
    fedex_event = provider_event("fedex", "fx_9", "DL", when, tracking_number="612345678901")
    fedex = PROVIDERS["fedex"].identity(json.dumps(fedex_event).encode())[1]
    assert (stripe_.event_id, stripe_.event_type, stripe_.occurred_at) == ("evt_9", "invoice.paid", when.replace(microsecond=0))
    assert (square.event_id, square.event_type) == ("sq_9", "payment.updated") and abs(square.occurred_at - when) < timedelta(milliseconds=1)
    assert (fedex.event_id, fedex.event_type, fedex.occurred_at) == (f"612345678901:DL:{when.isoformat()}", "DL", when)


def test_a_fedex_push_is_named_by_its_tracking_number_status_and_scan_time_as_written():
    event = provider_event("fedex", "any", "IT", NOW, tracking_number="794843185271")
    event["trackResults"][0]["scanEvents"][0]["date"] = "2026-11-26T09:15:00"  # no zone: no time we can read, still a name
    identity = PROVIDERS["fedex"].identity(json.dumps(event).encode())[1]
    assert identity.event_id == "794843185271:IT:2026-11-26T09:15:00" and identity.occurred_at is None
    # FedEx documents no event id: a field of that name (a delivery's own, say) changes nothing.
    again = PROVIDERS["fedex"].identity(json.dumps(event | {"eventId": "delivery-2"}).encode())[1]
    assert again == identity


# --- mapping -----------------------------------------------------------------------------------------


def document_for(provider: str, event: dict, received_at: datetime = NOW) -> dict:
    body = json.dumps(event).encode()
    _, identity = PROVIDERS[provider].identity(body)
    request = redacted_request({"user-agent": "x", PROVIDERS[provider].signature_header: "sig"}, body, URL.format(provider=provider))
    document = entry_document(PROVIDERS[provider], event, identity, request, received_at)
    NewEntry.model_validate(document)  # what the ingest records is a valid entry
    return document


@pytest.mark.parametrize("provider, event_type, fields, status", [
    ("stripe", "payment_intent.succeeded", {}, "SUCCESS"),
    ("stripe", "invoice.paid", {}, "SUCCESS"),
    ("stripe", "payment_intent.payment_failed", {}, "WARNING"),
    ("stripe", "invoice.payment_failed", {}, "WARNING"),
    ("stripe", "charge.failed", {}, "WARNING"),
    ("stripe", "charge.refunded", {}, "SUCCESS"),
    ("stripe", "customer.updated", {}, "SUCCESS"),
    ("square", "payment.updated", {"status": "COMPLETED"}, "SUCCESS"),
    ("square", "payment.updated", {"status": "FAILED"}, "WARNING"),
    ("square", "payment.updated", {"status": "DECLINED"}, "WARNING"),
    ("square", "inventory.count.updated", {}, "SUCCESS"),
    ("fedex", "DL", {}, "SUCCESS"),
    ("fedex", "DE", {}, "WARNING"),
    ("fedex", "IT", {}, "SUCCESS"),
])
def test_the_status_table(provider, event_type, fields, status):
    event = provider_event(provider, "evt_status", event_type, NOW, **fields)
    assert document_for(provider, event)["status"] == status
    assert PROVIDERS[provider].status(event, PROVIDERS[provider].identity(json.dumps(event).encode())[1]).value == status


@pytest.mark.parametrize("provider, event_type, entity_type", [
    ("stripe", "payment_intent.succeeded", "payment"), ("stripe", "charge.refunded", "payment"),
    ("stripe", "refund.created", "payment"), ("stripe", "customer.created", "contact"), ("stripe", "product.updated", "product"),
    ("square", "payment.updated", "payment"), ("square", "refund.updated", "payment"), ("square", "customer.created", "contact"),
    ("square", "catalog.version.updated", "product"), ("square", "inventory.count.updated", "product"),
    ("square", "order.fulfillment.updated", "fulfillment"), ("fedex", "DL", "fulfillment"),
])
def test_the_entity_comes_from_the_payload(provider, event_type, entity_type):
    document = document_for(provider, provider_event(provider, "evt_entity", event_type, NOW))
    assert document["entity"]["type"] == entity_type and document["entity"]["id"]


def test_a_stripe_event_reads_like_the_product_pages_row():
    event = provider_event("stripe", "evt_3Qk", "payment_intent.payment_failed", NOW - timedelta(hours=1), amount=15600)
    document = document_for("stripe", event)
    assert document["type"] == "WEBHOOK" and document["actor"] == {"kind": "external", "id": "stripe", "name": "Stripe"}
    assert (document["event"], document["action"], document["status"]) == ("payment_intent.payment_failed", "payment_failed", "WARNING")
    assert document["entity"] == {"type": "payment", "id": event["data"]["object"]["id"], "label": "156.00 USD"}
    assert document["source"] == {"provider": "stripe", "event_id": "evt_3Qk"}
    assert datetime.fromisoformat(document["occurred_at"]) == NOW - timedelta(hours=1)  # the provider's time, not arrival
    webhook = document["metadata"]["webhook"]
    assert (webhook["direction"], webhook["event_id"], webhook["request"]["body"]["id"]) == ("incoming", "evt_3Qk", "evt_3Qk")


def test_fedex_shows_its_status_code_and_description_and_the_tracking_number():
    document = document_for("fedex", provider_event("fedex", "fx_1", "DE", NOW, tracking_number="612345678901"))
    assert (document["event"], document["action"]) == ("DE · Delivery exception", "delivery_exception")
    assert document["entity"] == {"type": "fulfillment", "id": "612345678901", "label": "FedEx 612345678901"}
    assert document["actor"]["name"] == "FedEx"


def test_a_provider_clock_ahead_of_ours_records_the_arrival_time_and_keeps_its_own():
    document = document_for("stripe", provider_event("stripe", "evt_f", "charge.succeeded", NOW + timedelta(hours=1)))
    assert datetime.fromisoformat(document["occurred_at"]) == NOW
    assert datetime.fromisoformat(document["metadata"]["webhook"]["occurred_at"]) == NOW + timedelta(hours=1)


def test_an_unknown_object_has_no_entity_and_odd_ids_are_made_key_safe():
    assert document_for("stripe", provider_event("stripe", "evt_u", "account.updated"))["entity"] is None
    document = document_for("square", provider_event("square", "sq_u", "customer.created") | {"data": {
        "type": "customer", "id": "cus #1/é", "object": {"customer": {"given_name": "Alex", "family_name": "Chen"}}}})
    assert document["entity"] == {"type": "contact", "id": "cus__1/_", "label": "Alex Chen"}


# --- redaction ---------------------------------------------------------------------------------------


def test_signatures_authorization_cookies_and_keys_are_erased_from_the_headers():
    headers = {"stripe-signature": "t=1,v1=abc", "x-square-hmacsha256-signature": "c2ln", "fdx-signature": "c2ln",
               "Authorization": "Bearer sk_live_123", "cookie": "session=1", "x-api-key": "k", "X-Hub-Signature-256": "sha256=1",
               "x-shopify-hmac-sha256": "aGk=", "x-webhook-token": "t", "user-agent": "Stripe/1.0"}
    redacted = redact_headers(headers)
    assert redacted == {**{name: "*****" for name in headers}, "user-agent": "Stripe/1.0"}
    assert headers["Authorization"] == "Bearer sk_live_123"  # the caller's copy is untouched


def test_card_numbers_cvcs_and_bank_account_numbers_are_erased_from_the_body_at_any_depth():
    body = json.dumps({
        "id": "evt_1", "amount": 4200, "cvc_check": "pass", "last4": "4242", "client_secret": "pi_1_secret_abc",
        "data": {"object": {
            "card": {"number": "4242 4242 4242 4242", "cvc": "123", "exp_month": 12},
            "payment_method_details": {"card": {"cardNumber": "5555-5555-5555-4444", "securityCode": 737}},
            "bank_account": {"account_number": "000123456789", "routing_number": "110000000", "IBAN": "DE89370400440532013000"},
            "notes": ["customer typed 378282246310005 in the memo", {"CVV": "9876"}],
            "tracking": "794843185271", "order_ref": "1234567812345678",
        }},
    }).encode()
    redacted = redact_body(body)
    text = json.dumps(redacted)
    for secret in ("4242 4242 4242 4242", "5555-5555-5555-4444", '"123"', "737", "000123456789", "DE89370400440532013000",
                   "378282246310005", "9876", "pi_1_secret_abc"):
        assert secret not in text, secret
    card = redacted["data"]["object"]["card"]
    assert card == {"number": "************4242", "cvc": "*****", "exp_month": 12}
    assert redacted["data"]["object"]["notes"][0] == "customer typed ***********0005 in the memo"
    # What is not secret stays as sent: ids, amounts, check results, last four, a tracking number, a non-card number.
    assert (redacted["amount"], redacted["cvc_check"], redacted["last4"]) == (4200, "pass", "4242")
    assert redacted["data"]["object"]["tracking"] == "794843185271"
    assert redacted["data"]["object"]["order_ref"] == "1234567812345678"  # 16 digits, but not a valid card number
    assert redacted["data"]["object"]["bank_account"]["routing_number"] == "110000000"


def test_a_body_that_is_not_json_is_kept_as_text_with_card_numbers_cut():
    assert redact_body(b"pan=4111111111111111&cvc=1") == "pan=************1111&cvc=1"
    assert scrub_text("no numbers here") == "no numbers here"


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("signature", ["t=1,v1=ü", "t=1700000000,v1=\u00e9\u00e9", "v1=\u2603", "\udcff"])
def test_a_signature_header_with_non_ascii_characters_is_refused_like_any_bad_signature(provider, signature):
    sent = delivery(provider, provider_event(provider, "evt_1", "DL" if provider == "fedex" else "payment.updated"))
    header = PROVIDERS[provider].signature_header
    odd = Delivery(provider, sent.org, sent.body, {**sent.headers, header: signature}, sent.url)
    refused = refusal(provider, odd)
    assert (refused.reason, refused.field) == (f"malformed {header} header", header)


# --- org ids: every one the API accepts can hold a secret in SSM ----------------------------------------

SSM_NAME = re.compile(r"/[a-zA-Z0-9_.\-/]{1,1010}")  # SSM Parameter Store's characters; '/' separates levels
ODD_ORGS = ["org_acme", "org:acme", "acme@example.com", "a+b=c", "org_3Aacme", "org_3aacme", "encoded", "_", "-", "x" * 128,
            ":@+=", "org.acme-1", "a:b", "a_3Ab", "a@b", "a_40b"]


@pytest.mark.parametrize("org", ODD_ORGS)
def test_every_org_id_the_api_accepts_names_an_ssm_parameter(org):
    from activitylog.service import Caller
    from activitylog.webhooks.receiver import ORG_ID
    from activitylog.webhooks.secrets import parameter_name

    Caller(org, "u_1", frozenset())  # the API accepts it (the token's org_id claim)
    assert ORG_ID.fullmatch(org)  # so does the webhook URL
    name = parameter_name("/activitylog/webhooks", org, "stripe")
    assert SSM_NAME.fullmatch(name), name
    assert name.startswith("/activitylog/webhooks/") and name.endswith("/stripe") and name.count("/") <= 15


def test_no_two_org_ids_share_a_parameter_and_plain_ones_keep_theirs():
    from activitylog.webhooks.secrets import parameter_name

    names = {parameter_name("/p", org, provider) for org in ODD_ORGS for provider in ("stripe", "square")}
    assert len(names) == 2 * len(ODD_ORGS)
    assert parameter_name("/p", "org_acme", "stripe") == "/p/org_acme/stripe"  # secrets stored before stay where they are


@pytest.mark.parametrize("org", ["org/acme", "org/../x", "a#b", "", "x" * 129, "é"])
def test_an_org_id_no_webhook_url_or_parameter_can_name_is_refused_at_the_edge_with_a_401(org):
    from activitylog.errors import Unauthorized
    from activitylog.service import Caller
    from activitylog.webhooks.receiver import ORG_ID

    with pytest.raises(Unauthorized) as refused:
        Caller(org, "u_1", frozenset())
    assert refused.value.field == "authorization" and "org_id" in refused.value.message
    assert not ORG_ID.fullmatch(org)


def test_a_square_delivery_to_a_url_with_a_character_utf8_cannot_encode_is_refused_not_an_error():
    sent = delivery("square", provider_event("square", "sq_odd_url", "payment.updated"))
    odd = Delivery("square", sent.org, sent.body, sent.headers, sent.url + "?x=\udcff")  # a lone surrogate from the event's JSON
    assert refusal("square", odd).reason == "signature does not match"
