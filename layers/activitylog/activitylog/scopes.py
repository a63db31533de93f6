"""Which token scopes may call each route: one table, checked by API Gateway and by the service.

template.yaml's ``AuthorizationScopes`` must equal this table (tests/integration/test_template.py
compares them), so the gateway and the code never disagree on who may do what.

>>> sorted(ROUTE_SCOPES["GET /activities"])
['activity:read', 'activity:support']
>>> from activitylog.service import Caller
>>> Caller("org_1", "u_1", frozenset({"activity:read"})).require(ROUTE_SCOPES["POST /activities"])
Traceback (most recent call last):
activitylog.errors.Forbidden: this token needs one of the scopes: activity:write
"""

from __future__ import annotations

READ, WRITE, SUPPORT, ADMIN = "activity:read", "activity:write", "activity:support", "activity:admin"
# Re-running a failed job from its entry: a dashboard user's action, recorded in their name.
RETRY = "activity:retry"

ROUTE_SCOPES: dict[str, frozenset[str]] = {
    "GET /activities": frozenset({READ, SUPPORT}),
    # A writer may read back one entry by id: its own POST and PATCH already answer with the whole entry.
    "GET /activities/{id}": frozenset({READ, SUPPORT, WRITE}),
    "GET /activities/{id}/related": frozenset({READ, SUPPORT}),
    # The team members the org's log has seen, by name: the User filter's suggestions (what the list shows).
    "GET /members": frozenset({READ, SUPPORT}),
    # The org's vocabulary (types, statuses, actions and events seen, job types): what the list's filters offer.
    "GET /catalog": frozenset({READ, SUPPORT}),
    "POST /activities/{id}/retry": frozenset({RETRY}),
    # Every retryable failure a filter selects, retried at once (activitylog.jobs.bulk); its progress, for the
    # log's readers too (the bulk retry is an entry of the log).
    "POST /retries": frozenset({RETRY}),
    "GET /retries": frozenset({READ, RETRY}),
    "GET /retries/{id}": frozenset({READ, RETRY}),
    "POST /retries/{id}/cancel": frozenset({RETRY}),
    "POST /activities": frozenset({WRITE}),
    "POST /activities/batch": frozenset({WRITE}),
    "PATCH /activities/{id}": frozenset({WRITE}),
    "GET /openapi.json": frozenset(),  # public: the route has no authorizer
    # Support staff look an entry up by id wherever it lives now: the hot table or the archive.
    "GET /support/activities/{id}": frozenset({SUPPORT}),
    # ... and the proof of its archived versions, for a third party to check offline.
    "GET /support/activities/{id}/proof": frozenset({SUPPORT}),
    # ... and record, before querying the archive with DuckDB (``activitylog archive query``), what it asks and why.
    "POST /support/archive-queries": frozenset({SUPPORT}),
    # An org's admins set how long its entries stay hot and archived.
    "GET /settings/retention": frozenset({ADMIN}),
    "PUT /settings/retention": frozenset({ADMIN}),
    # ... and erase a team member's or a contact's personal data by destroying their key (activitylog.privacy.erasure).
    "POST /privacy/erasures": frozenset({ADMIN}),
    # ... and which fields new entries keep masked (activitylog.masking); its readers may see which.
    "GET /settings/privacy": frozenset({READ, ADMIN}),
    "PUT /settings/privacy": frozenset({ADMIN}),
    # ... and its streams to their own SIEM or bucket (activitylog.streams).
    "POST /settings/streams": frozenset({ADMIN}),
    "GET /settings/streams": frozenset({ADMIN}),
    "GET /settings/streams/{id}": frozenset({ADMIN}),
    "PATCH /settings/streams/{id}": frozenset({ADMIN}),
    "DELETE /settings/streams/{id}": frozenset({ADMIN}),
    "POST /settings/streams/{id}/pause": frozenset({ADMIN}),
    "POST /settings/streams/{id}/resume": frozenset({ADMIN}),
    "POST /settings/streams/{id}/test": frozenset({ADMIN}),
    "POST /settings/streams/{id}/backfill": frozenset({ADMIN}),
    # Any reader saves filters as alerts and keeps their own; an admin sees, pauses and deletes everyone's.
    "POST /alerts": frozenset({READ, ADMIN}),
    "GET /alerts": frozenset({READ, ADMIN}),
    "GET /alerts/{id}": frozenset({READ, ADMIN}),
    "PATCH /alerts/{id}": frozenset({READ, ADMIN}),
    "DELETE /alerts/{id}": frozenset({READ, ADMIN}),
    "POST /alerts/{id}/pause": frozenset({READ, ADMIN}),
    "POST /alerts/{id}/resume": frozenset({READ, ADMIN}),
    "POST /webhooks/{provider}/{org_id}": frozenset(),  # no authorizer: the provider's signature, checked by the function
    # An org's admins pull the provider events its log missed (a webhook outage) from the provider's own API.
    "POST /recoveries/{provider}": frozenset({ADMIN}),
    # An export is the list a reader may already page through, in one file: the list's scopes.
    "POST /exports": frozenset({READ, SUPPORT}),
    "GET /exports/{id}": frozenset({READ, SUPPORT}),
    # Opened from an email, with no bearer token: no authorizer; the link's signed token is checked instead.
    "GET /exports/{id}/download": frozenset(),
}
