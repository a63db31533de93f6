"""Missed webhooks recovered from the provider's own API, against DynamoDB Local, moto's SSM and a local fake
of Stripe's and Square's event APIs (tests/support/provider_api.py, a real HTTP server on 127.0.0.1).

Given events the org's provider account holds (some delivered to us, some whose delivery failed), when an
admin previews and then records a window's missed events, then each is one WEBHOOK entry exactly as a
delivery would have made it, an event already in the log is not recorded again, a replay of the recovery
changes nothing, and the recovery itself is an entry naming who asked.
"""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from activitylog.errors import BadRequest, Forbidden, NotFound
from activitylog.service import Caller
from activitylog.webhooks.recovery import Recovery
from activitylog.webhooks.secrets import ProviderKeys
from tests.support.kit import provider_event
from tests.support.provider_api import ProviderApi
from tests.support.webhooks import NOW, ORG, OTHER

KEYS_PATH = "/test/provider-keys"
ADMIN = Caller(ORG, "u_admin", frozenset({"activity:admin"}), name="Ada Admin")
OTHER_ADMIN = Caller(OTHER, "u_boss", frozenset({"activity:admin"}), name="Boss")
STRIPE_KEY, OTHER_STRIPE_KEY, SQUARE_TOKEN = "rk_test_hooks", "rk_test_elsewhere", "EAAAl_hooks"


@pytest.fixture
def recovery(hooks):
    ssm = boto3.client("ssm", region_name="us-east-1")
    for org, provider, key in ((ORG, "stripe", STRIPE_KEY), (OTHER, "stripe", OTHER_STRIPE_KEY), (ORG, "square", SQUARE_TOKEN)):
        ssm.put_parameter(Name=f"{KEYS_PATH}/{org}/{provider}", Value=key, Type="SecureString")
    with ProviderApi() as api:
        yield hooks, api, Recovery(hooks.service, ProviderKeys(KEYS_PATH), {"stripe": api.base, "square": api.base})


def _window(hours_from: float, hours_to: float = 0) -> dict:
    return {"from": (NOW - timedelta(hours=hours_from)).isoformat(), "to": (NOW - timedelta(hours=hours_to)).isoformat()}


def _stripe(api: ProviderApi, key: str, event_id: str, hours_ago: float, delivered: bool, kind: str = "payment_intent.payment_failed"):
    event = provider_event("stripe", event_id, kind, NOW - timedelta(hours=hours_ago))
    api.add(key, "stripe", event, delivered)
    return event


def test_missed_stripe_events_of_a_window_are_recorded_once_each_and_a_replay_changes_nothing(recovery):
    hooks, api, recover = recovery
    # 120 failed deliveries in the window (two pages of Stripe's 100), one of which did reach us after all;
    # one failed before the window, and delivered ones Stripe does not list as missed.
    missed = [_stripe(api, STRIPE_KEY, f"evt_miss_{n:03}", 2 + n / 100, delivered=False) for n in range(120)]
    _stripe(api, STRIPE_KEY, "evt_before", 30, delivered=False)
    delivered = _stripe(api, STRIPE_KEY, "evt_ok", 3, delivered=True, kind="payment_intent.succeeded")
    hooks.deliver("stripe", delivered)
    hooks.deliver("stripe", missed[7])  # its delivery failed at Stripe's end (a timeout), yet we recorded it
    hooks.drain()
    before = hooks.entries()
    assert len(before) == 2

    preview = recover.run(ADMIN, "stripe", _window(6) | {"preview": True})
    assert preview == {"provider": "stripe", "from": preview["from"], "to": preview["to"], "preview": True,
                       "available": 120, "missing": 119, "already_recorded": 1}
    assert hooks.entries() == before  # a preview records nothing
    listed = [r for r in api.requests if r["path"] == "/v1/events"]
    assert [r["query"]["delivery_success"] for r in listed] == [["false"], ["false"]]
    assert listed[0]["query"]["limit"] == ["100"] and "starting_after" in listed[1]["query"]
    assert {r["key"] for r in listed} == {STRIPE_KEY}

    answer = recover.run(ADMIN, "stripe", _window(6))
    assert (answer["available"], answer["missing"], answer["already_recorded"], answer["recorded"]) == (120, 119, 1, 119)
    entries = hooks.entries()
    by_event = {}
    for entry in entries:
        by_event.setdefault(hooks.service.get(ADMIN_READER, entry["id"]).source["event_id"], []).append(entry["id"])
    assert sorted(by_event) == sorted([e["id"] for e in missed] + ["evt_ok"])  # evt_before is outside the window
    assert all(len(ids) == 1 for ids in by_event.values())
    recovered = hooks.service.get(ADMIN_READER, by_event["evt_miss_050"][0])
    assert (recovered.type.value, recovered.status.value, recovered.actor["name"]) == ("WEBHOOK", "WARNING", "Stripe")
    assert recovered.metadata["webhook"]["recovered"]["by"] == "u_admin"

    again = recover.run(ADMIN, "stripe", _window(6))  # the admin presses it twice, or replays the request
    assert (again["missing"], again["already_recorded"], again["recorded"]) == (0, 120, 0)
    assert hooks.entries() == entries

    recoveries = [e for e in hooks.entries("SYSTEM_EVENT") if e["action"] == "recovered"]
    assert len(recoveries) == 2
    first = hooks.service.get(ADMIN_READER, recoveries[-1]["id"])  # newest first: the earlier one last
    assert first.actor == {"kind": "user", "id": "u_admin", "name": "Ada Admin"}
    assert first.metadata["recovery"] | {"from": None, "to": None} == {
        "provider": "stripe", "from": None, "to": None, "available": 120, "missing": 119, "already_recorded": 1, "recorded": 119}


ADMIN_READER = Caller(ORG, "u_admin", frozenset({"activity:read"}))


def test_another_orgs_account_and_log_are_untouched(recovery):
    hooks, api, recover = recovery
    _stripe(api, STRIPE_KEY, "evt_mine", 1, delivered=False)
    _stripe(api, OTHER_STRIPE_KEY, "evt_theirs", 1, delivered=False)
    _stripe(api, OTHER_STRIPE_KEY, "evt_mine", 1, delivered=False)  # the same id in their account: their own event
    assert recover.run(ADMIN, "stripe", _window(2))["recorded"] == 1
    assert hooks.entries(org=OTHER) == []
    assert {r["key"] for r in api.requests} == {STRIPE_KEY}
    assert recover.run(OTHER_ADMIN, "stripe", _window(2))["recorded"] == 2  # their marker is their own
    assert len(hooks.entries()) == 1 and len(hooks.entries(org=OTHER)) == 2


def test_a_window_past_stripes_30_days_is_refused_naming_from(recovery):
    hooks, api, recover = recovery
    with pytest.raises(BadRequest) as refused:
        recover.run(ADMIN, "stripe", _window(31 * 24) | {"preview": True})
    assert refused.value.field == "from" and "30 days" in str(refused.value)
    for bad, field in (({"from": "yesterday"}, "from"), (_window(1, 2), "from"),
                       ({"from": (NOW - timedelta(hours=1)).isoformat(), "to": (NOW + timedelta(hours=1)).isoformat()}, "to"),
                       (_window(1) | {"preview": "yes"}, "preview")):
        with pytest.raises(BadRequest) as refused:
            recover.run(ADMIN, "stripe", bad)
        assert refused.value.field == field, bad
    assert api.requests == []  # refused before asking Stripe


def test_fedex_has_no_missed_events_api_and_the_answer_says_where_they_wait(recovery):
    hooks, api, recover = recovery
    with pytest.raises(BadRequest) as refused:
        recover.run(ADMIN, "fedex", _window(2) | {"preview": True})
    assert refused.value.field == "provider"
    assert "not available for FedEx" in str(refused.value) and "7 days" in str(refused.value)
    with pytest.raises(NotFound):
        recover.run(ADMIN, "shopify", _window(2))


def test_only_an_admin_recovers_and_an_org_without_a_key_is_told_how_to_set_one(recovery):
    hooks, api, recover = recovery
    with pytest.raises(Forbidden):
        recover.run(Caller(ORG, "u_1", frozenset({"activity:read", "activity:write"})), "stripe", _window(2))
    with pytest.raises(BadRequest) as refused:
        recover.run(Caller("org_keyless", "u_a", frozenset({"activity:admin"})), "stripe", _window(2))
    assert refused.value.field == "provider" and "secrets set" in str(refused.value)
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=f"{KEYS_PATH}/org_revoked/stripe", Value="rk_test_revoked", Type="SecureString")
    with pytest.raises(BadRequest) as refused:  # Stripe answers 401: the key was rolled or lacks the events permission
        recover.run(Caller("org_revoked", "u_a", frozenset({"activity:admin"})), "stripe", _window(2))
    assert refused.value.field == "provider" and "Stripe refused" in str(refused.value)
    assert "rk_test" not in str(refused.value) and "oked" not in str(refused.value)  # not even Stripe's masked quote of it


def test_square_events_are_listed_and_compared_against_what_is_recorded(recovery):
    hooks, api, recover = recovery
    events = [provider_event("square", f"sq_{n}", "payment.updated", NOW - timedelta(minutes=30 + n)) for n in range(130)]
    for event in events:
        api.add(SQUARE_TOKEN, "square", event, delivered=False)
    api.add(SQUARE_TOKEN, "square", provider_event("square", "sq_before", "payment.updated", NOW - timedelta(hours=5)), delivered=False)
    hooks.deliver("square", events[3])
    hooks.drain()
    preview = recover.run(ADMIN, "square", _window(4) | {"preview": True})
    assert (preview["available"], preview["missing"], preview["already_recorded"]) == (130, 129, 1)
    searches = [r for r in api.requests if r["path"] == "/v2/events"]
    assert len(searches) == 2 and searches[1]["body"]["cursor"] and searches[0]["square_version"]
    assert recover.run(ADMIN, "square", _window(4))["recorded"] == 129
    assert recover.run(ADMIN, "square", _window(4))["recorded"] == 0
    assert len(hooks.entries()) == 130
    with pytest.raises(BadRequest) as refused:
        recover.run(ADMIN, "square", _window(29 * 24) | {"preview": True})
    assert refused.value.field == "from" and "28 days" in str(refused.value)


def test_the_route_previews_records_and_refuses_through_the_recovery_function(recovery, monkeypatch):
    from activitylog import wiring
    from tests.integration.api_events import claims
    from tests.support.api import Api

    hooks, api, _ = recovery
    monkeypatch.setenv("TABLE_NAME", hooks.service.config.table_name)
    monkeypatch.setenv("PROVIDER_KEYS_PATH", KEYS_PATH)
    monkeypatch.setenv("PROVIDER_API_BASES", f'{{"stripe": "{api.base}"}}')
    wiring.reset()
    try:
        _stripe(api, STRIPE_KEY, "evt_route", 1, delivered=False)
        admin = claims(org=ORG, sub="u_admin", scope="activity:admin", name="Ada Admin")
        http = Api()
        preview = http.call("POST", "/recoveries/stripe", body=_window(2) | {"preview": True}, token=admin)
        assert preview.status == 200 and (preview.body["available"], preview.body["missing"]) == (1, 1)
        recorded = http.call("POST", "/recoveries/stripe", body=_window(2), token=admin)
        assert recorded.status == 200 and recorded.body["recorded"] == 1 and recorded.body["id"]
        assert len(hooks.entries()) == 1
        reader = claims(org=ORG, scope="activity:read activity:write")
        assert http.call("POST", "/recoveries/stripe", body=_window(2), token=reader).status == 403
        too_old = http.call("POST", "/recoveries/stripe", body=_window(31 * 24), token=admin)
        assert (too_old.status, too_old.field) == (400, "from")
        fedex = http.call("POST", "/recoveries/fedex", body=_window(2), token=admin)
        assert (fedex.status, fedex.field) == (400, "provider") and "7 days" in fedex.body["message"]
        broken = http.call("POST", "/recoveries/stripe", raw=None, body="{", token=admin)
        assert (broken.status, broken.field) == (400, "body")
    finally:
        wiring.reset()


def test_a_window_holding_more_events_than_one_request_records_in_time_is_refused_before_anything_is_written(recovery, monkeypatch):
    from activitylog.webhooks import recovery as module

    hooks, api, recover = recovery
    monkeypatch.setattr(module, "MAX_EVENTS", 5)
    for n in range(6):
        _stripe(api, STRIPE_KEY, f"evt_many_{n}", 1 + n / 10, delivered=False)
    with pytest.raises(BadRequest) as refused:
        recover.run(ADMIN, "stripe", _window(2))
    assert refused.value.field == "from" and "split it" in str(refused.value)
    assert hooks.entries() == [] and hooks.entries("SYSTEM_EVENT") == []
    assert recover.run(ADMIN, "stripe", _window(1.25))["recorded"] == 3  # a shorter window


def test_an_event_delivered_between_the_recoverys_check_and_its_write_is_still_one_entry(recovery, monkeypatch):
    # A deterministic interleaving: the provider's own retry delivers the event right after the recovery
    # found it missing and before it writes it; the marker decides, whoever comes second changes nothing.
    hooks, api, recover = recovery
    event = _stripe(api, STRIPE_KEY, "evt_race", 1, delivered=False)
    checked = hooks.service.events_recorded

    def then_delivered(*args, **kwargs):
        found = checked(*args, **kwargs)
        hooks.deliver("stripe", event)
        hooks.drain()
        return found

    monkeypatch.setattr(hooks.service, "events_recorded", then_delivered)
    answer = recover.run(ADMIN, "stripe", _window(2))
    assert (answer["missing"], answer["recorded"]) == (1, 0)
    (entry,) = hooks.entries()
    assert hooks.service.get(ADMIN_READER, entry["id"]).metadata["webhook"]["signature_verified"] is True  # the delivery's
