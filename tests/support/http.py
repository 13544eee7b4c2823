"""Real HTTP receivers on 127.0.0.1 for the webhook tests: each records what it was sent."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.connectors.webhook import verify

# The secret the completion-event tests register their webhooks with (FlakyReceiver checks it).
SECRET = "hook-secret-123"


def serve_http(handler: type, path: str = "/") -> tuple[Any, str]:
    """A real HTTP server on a free loopback port, serving in a daemon thread; returns
    (server, url of `path`). Stop it with `server.shutdown(); server.server_close()`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}{path}"


class HookServer:
    """A webhook receiver on 127.0.0.1 answering a script of statuses (then 200), recording
    every request. Use as a context manager: it is shut down and its socket closed on exit."""

    def __init__(self, statuses: list[int] | None = None, body: bytes = b"nope: bad payload"):
        self.script = list(statuses or [])
        self.answer_body = body
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                with outer.lock:
                    outer.requests.append({"method": self.command, "path": self.path,
                                           "headers": dict(self.headers.items()), "body": data})
                    status = outer.script.pop(0) if outer.script else 200
                payload = b"ok" if status < 300 else outer.answer_body
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_HEAD = _handle

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def __enter__(self) -> "HookServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class Receiver:
    """A real local HTTP server that records webhook deliveries."""

    def __init__(self, secret: str):
        self.secret, self.bodies, self.keys = secret, [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not receiver.signed(body, self.headers.get("X-Sluice-Signature", ""),
                                       self.headers.get("X-Sluice-Timestamp", "")):
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body))
                receiver.keys.append(self.headers.get("Idempotency-Key"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server, self.url = serve_http(Handler, "/hook")

    def signed(self, body: bytes, header: str, timestamp: str) -> bool:
        """The README's receiver recipe, written out independently of shared.connectors.webhook:
        `t=<ts>,v1=<HMAC-SHA256(secret, "<ts>." + body)>`, fresh within five minutes."""
        fields = dict(p.partition("=")[::2] for p in header.split(","))
        ts = fields.get("t", "")
        if ts != timestamp or not ts.isdigit() or abs(time.time() - int(ts)) > 300:
            return False
        good = hmac.new(self.secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(fields.get("v1", ""), good)

    def records(self) -> dict[str, dict]:
        return {r["key"]: r["record"] for b in self.bodies for r in b["records"]}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FlakyReceiver:
    """Records the completion events sent to it (with whether each was signed with SECRET);
    answers 503 to the next `fail_next` deliveries, or to all while `always_fail`."""

    def __init__(self):
        self.events, self.fail_next, self.always_fail = [], 0, False
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if rec.always_fail or rec.fail_next > 0:
                    rec.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                rec.events.append((json.loads(body), verify(SECRET, body, self.headers.get("X-Sluice-Signature")),
                                   self.headers.get("Idempotency-Key")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server, self.url = serve_http(Handler, "/events")

    def of_type(self, t):
        return [e for e in self.events if e[0]["type"] == t]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
