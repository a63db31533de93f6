"""The fuzz tier: schemathesis against the OpenAPI document the local stack serves.

The stack is the e2e tier's ``api_stack`` fixture from tests/support/stack.py (``activitylog serve``
as a subprocess, exactly what ``make dev`` runs).
"""

from __future__ import annotations

import pytest

from tests.support.stack import api_stack  # noqa: F401 - the fixture, the e2e tier's too
from tests.support.fuzz import FUZZ_ORG


@pytest.fixture(scope="session")
def fuzz_token(api_stack) -> str:  # noqa: F811 - the imported fixture
    """Every scope, in an organization of its own."""
    return api_stack.token(FUZZ_ORG, user="u_fuzz", scopes=("read", "write", "support", "admin"))


@pytest.fixture(scope="session")
def webhook_secrets(api_stack) -> dict[str, str]:  # noqa: F811 - the imported fixture
    """A signing secret per provider for the fuzz org, set as a developer sets one (tests/fuzz/hooks.py signs with them)."""
    secrets = {provider: f"whsec_fuzz_{provider}_secret" for provider in ("stripe", "square", "fedex")}
    for provider, secret in secrets.items():
        made = api_stack.cli("secrets", "set", "--org", FUZZ_ORG, "--provider", provider, "--value", secret)
        assert made.returncode == 0, made.stderr
    return secrets
