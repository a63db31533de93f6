"""A stream's receiver for the tests: a real HTTP server on 127.0.0.1 that verifies each request's Standard Webhooks
signature with the library (``standardwebhooks``), as a customer's endpoint would."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """A real HTTP receiver on 127.0.0.1: verifies each request's Standard Webhooks signature, answers ``status``."""

    def __init__(self, secret: str = SECRET) -> None:
        from standardwebhooks.webhooks import Webhook

        self.webhook, self.events, self.status, self.requests = Webhook(secret), [], 200, 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests += 1
                if receiver.status == 200:
                    payload = receiver.webhook.verify(body, {k.lower(): v for k, v in self.headers.items()})
                    receiver.events.extend(payload)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status == 200 else b"down for maintenance")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
