"""The fuzz tier: schemathesis against the OpenAPI document the local stack serves.

The stack is the e2e tier's own ``api_stack`` fixture (``activitylog serve`` as a
subprocess, exactly what ``make dev`` runs).
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import api_stack  # noqa: F401 - the fixture, reused

FUZZ_ORG = "org_fuzz"


@pytest.fixture(scope="session")
def fuzz_token(api_stack) -> str:  # noqa: F811 - the imported fixture
    """Every scope, in an organization of its own."""
    return api_stack.token(FUZZ_ORG, user="u_fuzz", scopes=("read", "write", "support", "admin"))
