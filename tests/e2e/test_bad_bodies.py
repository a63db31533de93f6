"""Bodies as bytes through the local gateway: it hands a body that is not UTF-8 to the function
base64-encoded, as API Gateway does. Each refusal is a 4xx {message, field}."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

ENTRY = {"type": "USER_ACTION", "status": "SUCCESS", "actor": {"kind": "user", "id": "u_1", "name": "Riley Park"},
         "action": "updated", "event": "Café updated"}


def post(api_stack, data: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(api_stack.url + "/activities", data=data, method="POST", headers={
        "content-type": content_type, "authorization": f"Bearer {api_stack.token('org_e2e_bodies', scopes=['write'])}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(("data", "content_type", "status", "field"), [
    (json.dumps(ENTRY, ensure_ascii=False).encode("latin-1"), "application/json", 400, "body"),
    (json.dumps(ENTRY).encode(), "text/plain", 415, "content-type"),
    (json.dumps(ENTRY).encode(), "multipart/form-data", 415, "content-type"),
    (json.dumps({**ENTRY, "metadata": {"t": "é" * 600_000}}, ensure_ascii=False).encode(), "application/json", 413, "body"),
], ids=["latin-1", "text/plain", "multipart without boundary", "1.2 MB of é"])
def test_a_body_refused_as_bytes_names_its_field(api_stack, data, content_type, status, field):
    answer = post(api_stack, data, content_type)

    assert answer[0] == status and answer[1].get("field") == field and answer[1].get("message"), answer


def test_utf8_json_in_any_case_of_media_type_is_recorded_as_sent(api_stack):
    status, answer = post(api_stack, json.dumps(ENTRY, ensure_ascii=False).encode(), "Application/JSON; charset=UTF-8")

    assert status == 201 and answer["event"] == "Café updated", answer
