"""The ``/_local/*`` helpers answer this machine's own tools, never a web page.

Given the fixture stack on 127.0.0.1, when a page in a browser aims a request at a local
endpoint (a cross-origin "simple" POST: ``text/plain``, no custom header; or, after DNS
rebinding, a request whose ``Host`` is the attacker's name), then it is refused (403) and
changes nothing; the CLI, the test kit and the bench (``HttpClient``) still get through.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support.kit import HttpClient

EVENT = {"Entries": [{"Source": "evil.page", "DetailType": "Contact deleted", "Detail": json.dumps({"id": "c_1"})}]}
FAULT = {"function": "EchoFunction", "error": "ThrottlingException", "times": 1}


def send(stack, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Exactly these headers, as a browser would send them (``HttpClient`` adds the local header itself)."""
    request = urllib.request.Request(stack.url + path, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def armed(stack) -> list:
    return HttpClient(stack.url).request("GET", "/_local/faults")[1]["plans"]


@pytest.mark.parametrize("path, body", [("/_local/events", EVENT), ("/_local/faults", FAULT)])
def test_a_cross_site_simple_post_is_refused(fixture_stack, path, body):
    status, payload = send(fixture_stack, "POST", path, json.dumps(body).encode(),
                           {"content-type": "text/plain", "origin": "http://evil.example"})
    assert status == 403, payload
    assert armed(fixture_stack) == []


def test_a_post_without_the_local_header_is_refused_even_from_this_origin(fixture_stack):
    status, payload = send(fixture_stack, "POST", "/_local/faults", json.dumps(FAULT).encode(),
                           {"content-type": "application/json", "origin": fixture_stack.url})
    assert status == 403 and b"X-Activitylog-Local" in payload
    assert armed(fixture_stack) == []


@pytest.mark.parametrize("method, path", [("POST", "/_local/events"), ("GET", "/_local/stack"), ("DELETE", "/_local/faults")])
def test_a_foreign_host_is_refused_whatever_the_headers(fixture_stack, method, path):
    # DNS rebinding: the attacker's name now resolves to 127.0.0.1, so the page is "same origin" with it.
    port = fixture_stack.url.rsplit(":", 1)[1]
    headers = {"host": f"rebind.evil.example:{port}", "origin": f"http://rebind.evil.example:{port}",
               "x-activitylog-local": "1", "content-type": "application/json"}
    status, payload = send(fixture_stack, method, path, json.dumps(EVENT).encode() if method == "POST" else b"", headers)
    assert status == 403, payload
    headers["origin"] = fixture_stack.url  # a foreign Host alone is enough
    assert send(fixture_stack, method, path, json.dumps(EVENT).encode() if method == "POST" else b"", headers)[0] == 403


def test_a_foreign_origin_is_refused_even_with_the_header(fixture_stack):
    status, _ = send(fixture_stack, "POST", "/_local/faults", json.dumps(FAULT).encode(),
                     {"content-type": "application/json", "origin": "http://evil.example", "x-activitylog-local": "1"})
    assert status == 403
    assert armed(fixture_stack) == []


def test_the_local_tools_get_through(fixture_stack):
    client = HttpClient(fixture_stack.url)
    assert client.request("POST", "/_local/events", EVENT)[0] == 200
    assert client.request("POST", "/_local/faults", FAULT)[0] == 201
    assert client.request("DELETE", "/_local/faults")[0] == 200
    assert armed(fixture_stack) == []
    for host in ("localhost", "127.0.0.1"):  # either name of this machine, as a browser tab opened on it sends
        port = fixture_stack.url.rsplit(":", 1)[1]
        assert send(fixture_stack, "GET", "/_local/stack", headers={"host": f"{host}:{port}"})[0] == 200
