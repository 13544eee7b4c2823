"""The SDK's recovery methods call the routes the README lists, and `sluice status` prints the
diagnosis of a batch that is not COMPLETED."""
from __future__ import annotations

from typing import Any

from rich.console import Console

from cli.ops import cmd_status
from sluice.resources.jobs import Batches, Runs
from sluice.resources.pipes import Pipelines, StreamingPipelines


class Recorder:
    def __init__(self, answers: dict[str, Any] | None = None):
        self.calls: list[tuple] = []
        self.answers = answers or {}

    def _answer(self, method: str, path: str, body: Any = None) -> Any:
        self.calls.append((method, path, body))
        return self.answers.get(path, {})

    def get(self, path: str, params: Any = None) -> Any:
        return self._answer("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self._answer("POST", path, body)

    def pages(self, method: str, path: str, body: Any = None, **kw: Any):
        self.calls.append((method, path, body))
        return iter([])


def test_sdk_methods_hit_the_recovery_routes():
    http = Recorder()
    Batches(http).diagnose("bat_1")
    Batches(http).resubmit("bat_1", from_tier=1)
    Batches(http).retry("bat_1", retry_mode="transient_only")
    list(Runs(http).dead_letters("run_1"))
    Runs(http).replay("run_1")
    Pipelines(http).backfill("pipe_1", start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z", window="1h")
    StreamingPipelines(http).start("sp_1", resume_from="now", project="prod")
    assert http.calls == [
        ("GET", "/v1/batches/bat_1/diagnose", None),
        ("POST", "/v1/batches/bat_1/resubmit", {"from_tier": 1}),
        ("POST", "/v1/batches/bat_1/retry", {"retry_mode": "transient_only"}),
        ("GET", "/v1/pipelines/runs/run_1/dead-letters", None),
        ("POST", "/v1/pipelines/runs/run_1/dead-letters/replay", None),
        ("POST", "/v1/pipelines/pipe_1/backfill", {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z",
                                                   "window": "1h"}),
        ("POST", "/v1/projects/prod/streaming-pipelines/sp_1/commands", {"command": "START", "resumeFrom": "now"})]


class FakeClient:
    def __init__(self, batch: dict, diagnosis: dict):
        self.http = Recorder({"/v1/batches/bat_1": batch, "/v1/batches/bat_1/diagnose": diagnosis,
                              "/v1/collections": {"results": []}})
        self.batches = Batches(self.http)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def test_status_prints_the_diagnosis_of_a_batch_that_is_not_completed(monkeypatch):
    import cli.ops

    monkeypatch.setattr(cli.ops, "collection_namer", lambda client: (lambda c: c))
    batch = {"batch_id": "bat_1", "status": "COMPLETED_WITH_ERRORS", "counters": {"failed": 42}, "tiers": []}
    diagnosis = {"category": "user_code", "seconds_since_progress": None, "recommendation": "fix the code",
                 "top_errors": [{"code": "JS_ERROR", "count": 42, "cause": "user_code",
                                 "sample": {"source_id": "obj_1", "line": 3, "message": "TypeError: x"}}]}
    console = Console(record=True, width=200)
    assert cmd_status(FakeClient(batch, diagnosis), console, "bat_1") == 0
    out = console.export_text()
    assert "diagnosis: user_code" in out and "JS_ERROR x42 (user_code): e.g. obj_1 line 3: TypeError: x" in out
    assert "next: fix the code" in out
    console = Console(record=True, width=200)
    cmd_status(FakeClient({**batch, "status": "COMPLETED"}, diagnosis), console, "bat_1")
    assert "diagnosis" not in console.export_text()
