"""Helpers of the streaming end-to-end tests: creating pipelines, following their status, and
comparing a whole source with a whole target."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

from shared.connectors.base import jsonable
from tests.support.http import serve_http
from tests.support.waiting import wait_until

WORKER_QUEUES = "streaming,control,default"


def create_pipeline(api, body: dict) -> str:
    status, created, _ = api.post("/v1/projects/default-ns/streaming-pipelines", json=body)
    assert status == 201, created
    return f"/v1/projects/default-ns/streaming-pipelines/{created['streamingPipelineId']}"


def command(api, url: str, name: str, **extra) -> dict:
    status, body, _ = api.post(f"{url}/commands", json={"command": name, **extra})
    assert status == 200, body
    return body


def follow_status(api, url: str, until: set[str], timeout: float, seen: list[str] | None = None) -> dict:
    """Poll the status endpoint until it is in `until`, recording each distinct status seen."""
    seen = [] if seen is None else seen

    def check():
        status, body, _ = api.get(f"{url}/status")
        assert status == 200, body
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        assert body["status"] != "FAILED" or "FAILED" in until, body
        return body if body["status"] in until else None
    return wait_until(check, timeout, interval=0.05, message=f"status in {until} (seen {seen})")


def counted(api, url: str, counter: str, at_least: int, timeout: float = 15) -> dict:
    """The status once `counter` reached `at_least` (a step saves its counters just after its
    write, so a converged target can be a moment ahead of them)."""
    return wait_until(lambda: (st := follow_status(api, url, {"STREAMING"}, 5))["counters"][counter] >= at_least
                      and st, timeout, interval=0.05, message=f"{counter} >= {at_least}")


def mirror_of(coll) -> dict[str, dict]:
    """What a mongodb target must hold for a mongodb source collection with no transformation."""
    return {str(d["_id"]): {**jsonable(d), "_id": str(d["_id"])} for d in coll.find()}


def converge(expected, actual, timeout: float, message: str) -> None:
    """Wait until actual() == expected() (whole contents), then assert it with a readable diff."""
    state: dict = {}

    def same():
        state["e"], state["a"] = expected(), actual()
        return state["e"] == state["a"]
    try:
        wait_until(same, timeout, interval=0.2, message=message)
    except AssertionError:
        e, a = state.get("e", {}), state.get("a", {})
        missing = sorted(set(e) - set(a))[:5]
        extra = sorted(set(a) - set(e))[:5]
        differ = [k for k in e if k in a and e[k] != a[k]][:3]
        raise AssertionError(f"{message}: {len(e)} expected, {len(a)} present; missing {missing}, extra {extra}, "
                             f"differ {[(k, e[k], a[k]) for k in differ]}") from None


class ApplyingReceiver:
    """A real HTTP receiver that applies streaming webhook bodies (records upsert, deletes
    delete) to a dict in arrival order, as a downstream system would."""

    def __init__(self):
        self.state: dict[str, dict] = {}
        self.deleted: list[str] = []
        self.bodies = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.bodies += 1
                    for r in body.get("records", []):
                        receiver.state[r["key"]] = r["record"]
                    for key in body.get("deletes", []):
                        receiver.deleted.append(key)
                        receiver.state.pop(key, None)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server, self.url = serve_http(Handler, "/hook")

    def snapshot(self) -> dict[str, dict]:
        with self.lock:
            return {k: dict(v) for k, v in self.state.items()}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
