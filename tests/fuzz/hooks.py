"""Schemathesis hooks for the fuzz tier (loaded by ``SCHEMATHESIS_HOOKS=tests.fuzz.hooks``).

A webhook delivery the fuzzer makes up is refused at the signature check before its body is
read, so alone it never reaches the code that parses a provider's event. Here each generated
delivery to a known provider goes to each of the three in turn (the generator tends to pick one) and
becomes one of four, chosen by a hash of the case (so the seed still decides everything):

- unsigned (the generated headers only): a 400;
- signed with another secret: a 400;
- signed with the org's secret, the generated object laid over a real event of the provider
  (its id, type and times replaced by whatever was generated): parsed, then recorded or a 4xx;
- the same, the generated object inside the event's own object (Stripe's ``data.object``).

The stack's URL, the org and its secrets come from the environment (``tests/fuzz/test_openapi.py``);
each delivery signed with the org's secret and its answer's status go to the ``FUZZ_TALLY`` file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os

import schemathesis

from tests.support.kit import provider_event, signed_delivery

WEBHOOK_PATH = "/webhooks/{provider}/{org_id}"
_TURNS = itertools.count()  # one schemathesis process, one worker: the seed still decides the order
EVENT_TYPES = {"stripe": "payment_intent.succeeded", "square": "payment.updated", "fedex": "DL"}


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != WEBHOOK_PATH or case.method.upper() != "POST":
        return  # (the coverage phase sends other methods too: a 404, as API Gateway answers)
    secrets = json.loads(os.environ["FUZZ_SECRETS"])
    provider = (case.path_parameters or {}).get("provider")
    if provider not in secrets:
        return  # an unknown provider, as generated: a 404
    org = os.environ["FUZZ_ORG"]
    generated = case.body
    digest = int(hashlib.sha256(json.dumps([provider, generated], sort_keys=True, default=str).encode()).hexdigest(), 16)
    turn = next(_TURNS)
    provider = sorted(secrets)[turn % len(secrets)]  # each provider in turn, whichever one the generator favours
    # Each provider's first delivery is its own event, signed as the provider signs it (an acknowledged one at any
    # size); the rest mix the generated body in, sign with another secret, or go as generated.
    kind = 2 if turn < len(secrets) else digest % 4
    if turn < len(secrets):
        generated = None
    case.path_parameters = {**case.path_parameters, "provider": provider, "org_id": org}
    if kind == 0:
        return
    event = provider_event(provider, f"evt_fuzz_{hashlib.sha256(repr(generated).encode()).hexdigest()[:16]}", EVENT_TYPES[provider])
    if isinstance(generated, dict):
        if kind == 3:
            inner = event["data"]["object"] if provider != "fedex" else event["trackResults"][0]
            if provider == "square":
                inner = next(iter(inner.values())) if inner and isinstance(next(iter(inner.values())), dict) else inner
            inner.update(generated)
        else:
            event.update(generated)
    secret = secrets[provider] if kind != 1 else "whsec_not_the_orgs_secret"
    url = f"{os.environ['FUZZ_STACK_URL']}/webhooks/{provider}/{org}"
    body, headers = signed_delivery(provider, secret, event, url)
    case.body = body  # bytes: sent as they were signed
    case.headers = {**(case.headers or {}), **headers, **({SIGNED: provider} if kind != 1 else {})}


SIGNED = "x-fuzz-signed-by-org"  # marks (for after_call) a delivery signed with the org's own secret


@schemathesis.hook
def after_call(context, case, response):
    provider = (case.headers or {}).get(SIGNED)
    if case.operation.path == WEBHOOK_PATH and provider:
        with open(os.environ["FUZZ_TALLY"], "a") as tally:
            tally.write(json.dumps({"provider": provider, "status": response.status_code}) + "\n")
