"""Batches, tasks and pipeline runs: the things a caller polls, and `wait` to do the polling."""
from __future__ import annotations

from typing import Any, Callable, Iterator

from sluice._http import backoff_delays
from sluice.errors import JobFailed, TimeoutExpired
from sluice.progress import WatchAborted, watch
from sluice.resources._base import Resource, body, seg
from sluice.status import FAILURE


class _Silent:
    """A console that shows nothing: `wait` without progress polls the same way."""
    is_terminal = False

    def print(self, *_: Any, **__: Any) -> None:
        return None


def poll_delays() -> Iterator[float]:
    """0.2 s, then 1.5 times longer each poll, at most 2 s: quick answers for short jobs
    without hammering the API over long ones."""
    return backoff_delays(base=0.2, factor=1.5, cap=2.0, jitter=0.0)


def wait_for(kind: str, fetch: Callable[[], dict], *, timeout: float | None, progress: bool | Any,
             raise_on_failure: bool, names: Callable[[str], str] | None = None) -> dict:
    """Poll `fetch` until a terminal status; `progress` True draws the bars (or pass a console)."""
    console = None if progress is True else (_Silent() if not progress else progress)
    try:
        view = watch(kind, fetch, console, interval=poll_delays, timeout=timeout, names=names,
                     title=kind)
    except WatchAborted as exc:
        raise TimeoutExpired(0, "wait_timeout", str(exc)) from exc
    if raise_on_failure and view.get("status") in FAILURE:
        raise JobFailed(view, kind)
    return view


class Batches(Resource):
    """A trigger's batch: `client.batches.wait(batch_id, progress=True)`."""

    def get(self, batch_id: str) -> dict:
        return self._http.get(f"/v1/batches/{seg(batch_id)}")

    def list(self, *, status: list[str] | None = None, collection_id: str | None = None,
             limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("POST", "/v1/batches/list", body(status=status, collection_id=collection_id),
                                limit=limit)

    def wait(self, batch_id: str, timeout: float | None = None, progress: bool | Any = False,
             raise_on_failure: bool = False) -> dict:
        """Poll (with backoff) until COMPLETED, COMPLETED_WITH_ERRORS, FAILED or CANCELED;
        return the final view. Raises TimeoutExpired after `timeout` seconds, and JobFailed
        on FAILED/CANCELED when `raise_on_failure`.

            view = client.batches.wait("bat_…", timeout=600, progress=True)
        """
        return wait_for("batch", lambda: self.get(batch_id), timeout=timeout, progress=progress,
                        raise_on_failure=raise_on_failure)

    def cancel(self, batch_id: str) -> dict:
        return self._http.post(f"/v1/batches/{seg(batch_id)}/cancel")

    def retry(self, batch_id: str, *, retry_mode: str | None = None, tier_nums: list[int] | None = None) -> dict:
        """Re-run what failed (`retry_mode="failed_only"`, the default), only what failed for
        infrastructure reasons ("transient_only"), or everything ("all")."""
        return self._http.post(f"/v1/batches/{seg(batch_id)}/retry", body(retry_mode=retry_mode,
                                                                           tier_nums=tier_nums))

    def failed_documents(self, batch_id: str, *, limit: int | None = None) -> Iterator[dict]:
        """Every per-record failure of the batch, page after page."""
        return self._http.pages("GET", f"/v1/batches/{seg(batch_id)}/failed-documents", limit=limit)

    def diagnose(self, batch_id: str) -> dict:
        """What is wrong: category, seconds since progress, top errors with a sample each,
        whether workers consume the queue, and a recommendation."""
        return self._http.get(f"/v1/batches/{seg(batch_id)}/diagnose")

    def resubmit(self, batch_id: str, from_tier: int) -> dict:
        """A new attempt re-running tiers `from_tier`.. from what the tiers above stored."""
        return self._http.post(f"/v1/batches/{seg(batch_id)}/resubmit", body(from_tier=from_tier))


class Tasks(Resource):
    """The task view of a batch (`tsk_…`): `client.tasks.wait(task_id)`."""

    def get(self, task_id: str) -> dict:
        return self._http.get(f"/v1/tasks/{seg(task_id)}")

    def list(self, *, status: list[str] | None = None, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("POST", "/v1/tasks/list", body(status=status), limit=limit)

    def wait(self, task_id: str, timeout: float | None = None, progress: bool | Any = False,
             raise_on_failure: bool = False) -> dict:
        """As `batches.wait`, for a task id."""
        return wait_for("task", lambda: self.get(task_id), timeout=timeout, progress=progress,
                        raise_on_failure=raise_on_failure)

    def cancel(self, task_id: str) -> dict:
        return self._http.delete(f"/v1/tasks/{seg(task_id)}")


class Runs(Resource):
    """Pipeline runs (`run_…`): `client.runs.wait(client.pipelines.run(pid)["id"])`."""

    def get(self, run_id: str) -> dict:
        return self._http.get(f"/v1/pipelines/runs/{seg(run_id)}")

    def list(self, *, pipeline: str | None = None, status: str | None = None,
             limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("GET", "/v1/pipelines/runs", params=body(pipeline=pipeline, status=status),
                                key="runs", limit=limit)

    def wait(self, run_id: str, timeout: float | None = None, progress: bool | Any = False,
             raise_on_failure: bool = False) -> dict:
        """As `batches.wait`, for a run: one bar per step when `progress`."""
        return wait_for("run", lambda: self.get(run_id), timeout=timeout, progress=progress,
                        raise_on_failure=raise_on_failure)

    def pause(self, run_id: str) -> dict:
        """No new chunk starts; chunks in progress finish. Status PAUSED."""
        return self._http.post(f"/v1/pipelines/runs/{seg(run_id)}/pause")

    def resume(self, run_id: str) -> dict:
        return self._http.post(f"/v1/pipelines/runs/{seg(run_id)}/resume")

    def cancel(self, run_id: str) -> dict:
        """Status CANCELED (from PENDING, RUNNING or PAUSED); a finished run raises ConflictError."""
        return self._http.post(f"/v1/pipelines/runs/{seg(run_id)}/cancel")

    def errors(self, run_id: str, *, limit: int | None = None) -> Iterator[dict]:
        """The run's failures grouped by step and message, with counts."""
        return self._http.pages("GET", f"/v1/pipelines/runs/{seg(run_id)}/errors", limit=limit)

    def dead_letters(self, run_id: str, *, limit: int | None = None) -> Iterator[dict]:
        """The run's failed records with their input record, page after page."""
        return self._http.pages("GET", f"/v1/pipelines/runs/{seg(run_id)}/dead-letters", limit=limit)

    def replay(self, run_id: str) -> dict:
        """Run the dead letters again (after fixing the code): {"id": new run, "replay_of": run_id}."""
        return self._http.post(f"/v1/pipelines/runs/{seg(run_id)}/dead-letters/replay")
