"""The provider register: every provider module's own signing verifies with its own check, and maps to an entry.

Given each registered provider (and the tests' fake fourth, ``tests/providers/acme.py``), when
its sample event is signed with its own ``sign``, then its own ``verify`` accepts it, a forgery is
refused, and the mapping makes a valid WEBHOOK entry without its signature headers.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from activitylog.inputs import NewEntry
from activitylog.webhooks.mapping import entry_document, redacted_request
from activitylog.webhooks.providers import MODULES, PROVIDERS, Delivery, Rejected, registered

URL = "https://hooks.example.com/webhooks/{provider}/org_1"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
ALL = registered([*MODULES, "tests.providers.acme"])


@pytest.mark.parametrize("name", sorted(ALL))
def test_a_providers_own_signature_verifies_and_its_event_is_a_webhook_entry(name):
    provider = ALL[name]
    event = provider.sample_event(f"{name}_evt_1", provider.sample_types[0], NOW)
    body, url = json.dumps(event).encode(), URL.format(provider=name)
    headers = provider.sign("s3cret", body, url)
    provider.verify(Delivery(name, "org_1", body, headers, url), "s3cret")
    with pytest.raises(Rejected, match="signature does not match"):
        provider.verify(Delivery(name, "org_1", body, headers, url), "another")
    _, identity = provider.identity(body)
    request = redacted_request(headers, body, url)
    document = entry_document(provider, event, identity, request, NOW)
    assert NewEntry.model_validate(document).actor.id == name
    if name in PROVIDERS:  # registered in this process (acme is registered only where WEBHOOK_PROVIDER_MODULES names it)
        assert all(request["headers"][h] == "*****" for h in provider.secret_headers if h in headers)


def test_the_register_holds_the_built_in_providers_and_refuses_a_name_twice():
    assert sorted(PROVIDERS) == ["fedex", "square", "stripe"]
    assert set(ALL) == {"fedex", "square", "stripe", "acme"}
    with pytest.raises(ValueError, match="two webhook providers named 'stripe'"):
        registered([*MODULES, MODULES[0]])
