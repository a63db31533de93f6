"""A local fake of the providers' event APIs: a real HTTP server on 127.0.0.1, started by the test.

It serves the documented shapes the recovery reads (``activitylog.webhooks.recovery``):

- Stripe ``GET /v1/events`` (List Events): ``delivery_success``, ``created[gte]``/``created[lte]``,
  ``limit`` (1-100), ``starting_after``; newest first; ``{"object": "list", "url": "/v1/events",
  "has_more": …, "data": [event, …]}``; ``Authorization: Bearer <key>`` names the account (401 otherwise,
  Stripe's error shape).
- Square ``POST /v2/events`` (SearchEvents): ``query.filter.created_at {start_at, end_at}``,
  ``query.sort {sort_field: DEFAULT, order}``, ``limit`` (≤ 100), ``cursor``; ``{"events": […],
  "metadata": […], "cursor": …}`` (no cursor on the last page).

Each account (API key) holds events with whether their webhook reached us (``delivered``): Stripe
filters on it, Square has no such filter. ``requests`` keeps what was asked, to check the paging.

>>> with ProviderApi() as api:
...     api.add("rk_test_a", "stripe", {"id": "evt_1", "created": 1}, delivered=False)
...     api.base.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class ProviderApi:
    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], list[tuple[dict, bool]]] = {}  # (key, provider) -> [(event, delivered)]
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ProviderApi":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, key: str, provider: str, event: dict, delivered: bool) -> None:
        self.accounts.setdefault((key, provider), []).append((event, delivered))

    # --- the two APIs ----------------------------------------------------------------------------

    def stripe_list_events(self, key: str, query: dict[str, list[str]]) -> tuple[int, dict]:
        one = {name: values[-1] for name, values in query.items()}
        limit = int(one.get("limit", 10))
        if not 1 <= limit <= 100:
            return 400, _stripe_error("invalid_request_error", "Invalid integer: limit must be between 1 and 100", "limit")
        events = sorted(self.accounts.get((key, "stripe"), []), key=lambda item: (-item[0]["created"], item[0]["id"]))
        if "delivery_success" in one:
            wanted = one["delivery_success"] == "true"
            events = [item for item in events if item[1] == wanted]
        low, high = int(one.get("created[gte]", 0)), int(one.get("created[lte]", 2**62))
        listed = [event for event, _ in events if low <= event["created"] <= high]
        if "starting_after" in one:
            ids = [event["id"] for event in listed]
            if one["starting_after"] not in ids:
                return 400, _stripe_error("invalid_request_error", "No such event", "starting_after")
            listed = listed[ids.index(one["starting_after"]) + 1 :]
        return 200, {"object": "list", "url": "/v1/events", "has_more": len(listed) > limit, "data": listed[:limit]}

    def square_search_events(self, key: str, body: dict) -> tuple[int, dict]:
        limit = int(body.get("limit", 100))
        if not 1 <= limit <= 100:
            return 400, {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "INVALID_VALUE", "field": "limit"}]}
        query = body.get("query") or {}
        created = (query.get("filter") or {}).get("created_at") or {}
        low, high = _when(created.get("start_at"), 0), _when(created.get("end_at"), 2**62)
        events = [event for event, _ in self.accounts.get((key, "square"), []) if low <= _when(event["created_at"], 0) <= high]
        events.sort(key=lambda event: (event["created_at"], event["event_id"]),
                    reverse=(query.get("sort") or {}).get("order", "DESC") == "DESC")
        start = int(base64.b64decode(body["cursor"]).decode()) if body.get("cursor") else 0
        page = events[start : start + limit]
        answer: dict[str, Any] = {
            "events": page,
            "metadata": [{"event_id": e["event_id"], "api_version": "2024-10-17"} for e in page],
        }
        if start + limit < len(events):
            answer["cursor"] = base64.b64encode(str(start + limit).encode()).decode()
        return 200, answer

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the test says what failed
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _key(self) -> str:
                return self.headers.get("Authorization", "").removeprefix("Bearer ").strip()

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                api.requests.append({"method": "GET", "path": url.path, "query": query, "key": self._key()})
                if url.path != "/v1/events":
                    return self._answer(404, _stripe_error("invalid_request_error", "Unrecognized request URL"))
                key = self._key()
                if not any(k == key for k, provider in api.accounts if provider == "stripe"):
                    # Stripe quotes the key it refused, masked: "Invalid API Key provided: rk_test_****1234"
                    return self._answer(401, _stripe_error("invalid_request_error", f"Invalid API Key provided: {key[:8]}****{key[-4:]}"))
                self._answer(*api.stripe_list_events(key, query))

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                api.requests.append({"method": "POST", "path": url.path, "body": body, "key": self._key(),
                                     "square_version": self.headers.get("Square-Version")})
                if url.path != "/v2/events":
                    return self._answer(404, {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "NOT_FOUND"}]})
                key = self._key()
                if not any(k == key for k, provider in api.accounts if provider == "square"):
                    return self._answer(401, {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED",
                                                          "detail": "This request could not be authorized."}]})
                self._answer(*api.square_search_events(key, body))

        return Handler


def _stripe_error(kind: str, message: str, param: str | None = None) -> dict:
    return {"error": {"type": kind, "message": message} | ({"param": param} if param else {})}


def _when(text: Any, default: float) -> float:
    if not text:
        return default
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
