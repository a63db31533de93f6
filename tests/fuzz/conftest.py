"""The fuzz tier: schemathesis against the OpenAPI document the local stack serves.

The stack is one of its own (tests/support/stack.py's ``running_api_stack``: ``activitylog serve`` as a
subprocess, exactly what ``make dev`` runs), so nothing the e2e tier left in flight reaches the fuzz tier's
counts; unseeded, as the fuzz organization is its own (the demo's seed is the e2e tier's).
"""

from __future__ import annotations

import pytest

from tests.support.fuzz import FUZZ_ORG
from tests.support.stack import running_api_stack


@pytest.fixture(scope="package")
def api_stack(tmp_path_factory):
    yield from running_api_stack(tmp_path_factory.mktemp("api-stack"), seeded=False)


@pytest.fixture(scope="package")
def fuzz_token(api_stack) -> str:
    """Every scope, in an organization of its own."""
    return api_stack.token(FUZZ_ORG, user="u_fuzz", scopes=("read", "write", "support", "admin"))


@pytest.fixture(scope="package")
def webhook_secrets(api_stack) -> dict[str, str]:
    """A signing secret per provider for the fuzz org, set as a developer sets one (tests/fuzz/hooks.py signs with them)."""
    secrets = {provider: f"whsec_fuzz_{provider}_secret" for provider in ("stripe", "square", "fedex")}
    for provider, secret in secrets.items():
        made = api_stack.cli("secrets", "set", "--org", FUZZ_ORG, "--provider", provider, "--value", secret)
        assert made.returncode == 0, made.stderr
    return secrets
