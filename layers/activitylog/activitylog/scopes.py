"""Which token scopes may call each route: one table, checked by API Gateway and by the service.

template.yaml's ``AuthorizationScopes`` must equal this table (tests/integration/test_template.py
compares them), so the gateway and the code never disagree on who may do what.

>>> sorted(ROUTE_SCOPES["GET /activities"])
['activity:read', 'activity:support']
>>> caller.require(ROUTE_SCOPES["POST /activities"])  # Forbidden (403, field "scope") without activity:write
"""

from __future__ import annotations

READ, WRITE, SUPPORT = "activity:read", "activity:write", "activity:support"

ROUTE_SCOPES: dict[str, frozenset[str]] = {
    "GET /activities": frozenset({READ, SUPPORT}),
    # A writer may read back one entry by id: its own POST and PATCH already answer with the whole entry.
    "GET /activities/{id}": frozenset({READ, SUPPORT, WRITE}),
    "POST /activities": frozenset({WRITE}),
    "POST /activities/batch": frozenset({WRITE}),
    "PATCH /activities/{id}": frozenset({WRITE}),
    "GET /openapi.json": frozenset(),  # public: the route has no authorizer
    "POST /webhooks/{provider}/{org_id}": frozenset(),  # no authorizer: the provider's signature, checked by the function
}
