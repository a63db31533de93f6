"""Small clients for the local API: over HTTP (the CLI) or straight into the gateway (start-up seeding)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from activitylog_local.stack import LocalStack


class StackNotRunning(RuntimeError):
    pass


class HttpClient:
    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())
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
