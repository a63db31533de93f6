"""Small clients for the local API: over HTTP (the CLI) or straight into the gateway (start-up seeding)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from samlocal.stack import LocalStack


class StackNotRunning(RuntimeError):
    pass


class HttpClient:
    """JSON over HTTP to a running stack: the CLI's, the tests' and the bench's one client.

    >>> status, document = HttpClient("http://127.0.0.1:3000", token).request("GET", "/activities?limit=5")
    """

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None, *,
                token: Optional[str] = None, raw: Optional[bytes] = None) -> tuple[int, Any]:
        """(status, the answer's JSON, or its text when it is not JSON); ``raw`` is sent as is, else ``body`` as JSON."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"content-type": "application/json"} if data is not None else {}
        status, _, payload = self.send(method, path, data, {**sent, **(headers or {})}, token=token)
        return status, _json(payload)

    def send(self, method: str, path: str, data: Optional[bytes] = None, headers: Optional[dict] = None, *,
             token: Optional[str] = None) -> tuple[int, Message, bytes]:
        """(status, headers, body bytes) of one request; an error status is an answer, not an exception."""
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if path.startswith("/_local/") and not request.has_header("X-activitylog-local"):
            request.add_header("X-Activitylog-Local", "1")  # the local helpers refuse a change without it (server.py)
        if token or self.token:
            request.add_header("authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()
        except (ConnectionError, urllib.error.URLError) as error:
            raise StackNotRunning(f"no local stack answers at {self.url} ({getattr(error, 'reason', error)}): start it with `make dev`") from None


class InProcessClient:
    """Requests through the gateway of a stack in this process: same routes, authorizer and handler."""

    def __init__(self, stack: "LocalStack", token: str) -> None:
        self.stack = stack
        self.token = token

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.stack.invoke_http(method, path, self.token, body)
        return response.status, _json(response.body)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data or b"null")
    except ValueError:
        return data.decode(errors="replace")
