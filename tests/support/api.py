"""The HTTP API's functions called the way API Gateway calls them, and the bodies the integration tier
writes; the ``api`` fixture (tests/integration/conftest.py) points them at the test's table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from tests.integration.api_events import LambdaContext, api_event, claims, handler_module

WRITER = claims(org="org_acme", sub="svc_contacts", scope="activity:write", name="contacts service")
READER = claims(org="org_acme", sub="u_17", scope="activity:read", name="Riley Park")
OTHER_ORG_WRITER = claims(org="org_globex", sub="svc_contacts", scope="activity:write")
OTHER_ORG_READER = claims(org="org_globex", sub="u_99", scope="activity:read", name="Sam Lee")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict

    @property
    def field(self) -> Optional[str]:
        return self.body.get("field") if isinstance(self.body, dict) else None


class Api:
    """Calls the function template.yaml routes each request to, the way API Gateway would,
    and checks what every answer must satisfy."""

    def call(self, method: str, path: str, *, query=None, body=None, token=READER, raw=None) -> Reply:
        event = raw or api_event(method, path, query=query, body=body, claims=token)
        response = handler_module(method, path).lambda_handler(event, LambdaContext())
        status = response["statusCode"]
        assert status < 500, f"{method} {path} answered {status}: {response.get('body')}"
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        assert headers.get("content-type", "").startswith("application/json"), response
        return Reply(status, json.loads(response["body"]), headers)

    # Shorthands for the common calls.
    def record(self, entry: dict, token=WRITER) -> Reply:
        return self.call("POST", "/activities", body=entry, token=token)

    def list(self, token=READER, **query) -> Reply:
        return self.call("GET", "/activities", query=query, token=token)

    def get(self, entry_id: str, token=READER) -> Reply:
        return self.call("GET", f"/activities/{entry_id}", token=token)

    def patch(self, entry_id: str, update: Any, token=WRITER) -> Reply:
        return self.call("PATCH", f"/activities/{entry_id}", body=update, token=token)

    def ids(self, token=READER, **query) -> list[str]:
        reply = self.list(token=token, limit=200, **query)
        assert reply.status == 200, reply
        return [item["id"] for item in reply.body["items"]]


def entry(**overrides) -> dict:
    """A valid POST /activities body: a team member updating a contact."""
    body = {
        "type": "USER_ACTION",
        "status": "SUCCESS",
        "actor": {"kind": "user", "id": "u_17", "name": "Riley Park"},
        "action": "updated",
        "event": "Contact updated · Alex Chen",
        "entity": {"type": "contact", "id": "c_42", "label": "Alex Chen"},
    }
    body.update(overrides)
    return body


def job(**overrides) -> dict:
    """A background job that has just started."""
    return entry(
        type="BACKGROUND_JOB",
        status="IN_PROGRESS",
        actor={"kind": "system", "id": "system", "name": "system"},
        action="processed",
        event="PROCESS_RELEASE_PAYMENTS · Spring 2026 Reds",
        entity={"type": "job", "id": "job_7", "label": "Release payments"},
        metadata={"processed": 0, "total": 1000},
        **overrides,
    )
