"""The fuzz tier: schemathesis against the OpenAPI document the local stack serves.

The stack is an ``api_stack`` of its own (tests/support/stack.py: ``activitylog serve`` as a subprocess,
exactly what ``make dev`` runs), so nothing the e2e tier left in flight reaches the fuzz tier's counts.
"""

from __future__ import annotations

import pytest

from tests.support.stack import api_stack  # noqa: F401 - the fixture: a stack of the fuzz tier's own
from tests.support.fuzz import FUZZ_ORG


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
