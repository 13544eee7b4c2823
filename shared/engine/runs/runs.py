"""Pipeline run lifecycle as plain functions: start (with the seed's 422 rules), plan chunks,
finish, and the run's public view."""
from __future__ import annotations

from typing import Any

from shared.engine.admission import resolve_priority
from shared.engine.runs.budget import run_budget_problem
from shared.engine.events import emit
from shared.engine.runs.runsource import run_source
from shared.engine.runs.streaks import after_run
from shared.errors import Conflict, Unprocessable
from shared.ids import new_id
from shared.settings import Settings
from shared.status import RunStatus, finished_status, is_terminal
from shared.stores import Stores
from shared.stores.runs import STEPS
from shared.timeutil import utcnow

R = RunStatus
JS_ENTRY_POINTS = ("transform", "execute")


def start_run(stores: Stores, pipeline: dict, incremental: bool | None, trigger: str,
              priority: str | None = None) -> dict:
    """Create a run and claim the pipeline for it, or refuse with the seed's messages."""
    if not pipeline.get("enabled", True):
        raise Unprocessable("pipeline is disabled", code="pipeline_disabled")
    if incremental is None:
        incremental = bool(pipeline.get("incremental_default"))
    if incremental and not pipeline.get("update_time_field"):
        raise Unprocessable("incremental requires an update time column", code="incremental_without_update_time")
    run_id = new_id("run")
    if stores.pipelines.claim_run(pipeline["_id"], run_id) is None:
        raise Unprocessable("pipeline is already in progress", code="pipeline_in_progress")
    now = utcnow()
    cursor = pipeline.get("cursor") if incremental else None
    return stores.runs.create({
        "_id": run_id, "namespace_id": pipeline["namespace_id"], "pipeline": pipeline["_id"],
        "status": R.PENDING.value, "incremental": incremental, "trigger": trigger,
        "priority": resolve_priority(stores, pipeline["namespace_id"], priority),
        "cursor_from": cursor, "startTime": now, "endTime": None, "error": "",
        "created_at": now, "updated_at": now, "heartbeat_at": now, "redispatches": 0})


def plan_run(stores: Stores, settings: Settings, run_id: str) -> list[str]:
    """Chunk the run's source (from what is in the source now) and mark it RUNNING."""
    run = stores.runs.get(run_id)
    pipeline = stores.pipelines.by_id(run["pipeline"])
    source = run_source(stores, run, pipeline)
    try:
        query = source.query(None, run.get("cursor_from"), pipeline.get("update_time_field"))
        ranges, total = source.boundaries(query, settings.chunk_size)
    finally:
        source.close()
    sizes = [settings.chunk_size] * (len(ranges) - 1) + [total - settings.chunk_size * (len(ranges) - 1)]
    rows = [{"_id": f"{run_id}:{i}", "run_id": run_id, "index": i, "lo": lo, "hi": hi, "size": size,
             "done": False, "created_at": utcnow()} for i, ((lo, hi), size) in enumerate(zip(ranges, sizes))]
    stores.runs.ledger.add(rows)
    stores.runs.transition(run_id, R.RUNNING.value, {"heartbeat_at": utcnow()})
    return [r["_id"] for r in rows]


def finish_run(stores: Stores, run_id: str) -> str:
    """'wait' while chunks are unfinished, 'stop' if the run already ended, else 'done'."""
    run = stores.runs.get(run_id)
    if run["status"] != R.RUNNING.value:
        return "stop"
    if stores.runs.ledger.pending(run_id):
        return "wait"
    problem = run_budget_problem(stores, run_id, stores.pipelines.by_id(run["pipeline"]) or {}, final=True)
    if problem is not None:
        fail_run(stores, run_id, problem)
        return "done"
    totals = stores.runs.totals(run_id)
    status = finished_status("run", sum(totals["failed"]))
    ended = stores.runs.transition(run_id, status, {"endTime": utcnow()})
    if ended is not None:
        release(stores, ended, totals["max_update_time"])
        emit(stores, ended["namespace_id"], "run.completed", run_view(ended, totals))
    return "done"


def fail_run(stores: Stores, run_id: str, message: str) -> None:
    ended = stores.runs.transition(run_id, R.FAILED.value, {"endTime": utcnow(), "error": message})
    if ended is not None:
        release(stores, ended, None)
        emit(stores, ended["namespace_id"], "run.failed", run_view(ended, stores.runs.totals(run_id)))


def cancel_run(stores: Stores, run_id: str, namespace_id: str) -> dict:
    """PENDING, RUNNING or PAUSED → CANCELED, and the pipeline is free for its next run.
    Chunks in progress finish (their counts stay); a queued chunk a worker meets later is
    marked done with nothing read (one read of the run, one update), and parked ones stay
    parked. A run that ended first answers 409."""
    run = stores.runs.get(run_id, namespace_id)
    if is_terminal("run", run["status"]):
        raise Conflict(f"run is already {run['status']}", code="run_finished")
    ended = stores.runs.transition(run_id, R.CANCELED.value, {"endTime": utcnow()})
    if ended is None:   # it ended between the read and the guarded write
        current = stores.runs.get(run_id)
        raise Conflict(f"run is already {current['status']}", code="run_finished")
    stores.scheduler.bump()   # gates re-read the pool: the run no longer takes a share
    release(stores, ended, None)
    return ended


def release(stores: Stores, run: dict, max_update_time: Any) -> None:
    """Free the pipeline for its next run. The incremental cursor moves only when the run
    reached its end (records that failed are in the run's errors, not re-read forever)."""
    cursor = None
    if run["status"] in (R.COMPLETED.value, R.COMPLETED_WITH_ERRORS.value) and max_update_time is not None \
            and not run.get("window"):  # a backfill window is in the past: the cursor stays
        prev = run.get("cursor_from")
        cursor = max_update_time if prev is None or max_update_time > prev else prev
    stores.pipelines.release_run(run["pipeline"], run["_id"],
                                 {"id": run["_id"], "status": run["status"], "endTime": run.get("endTime")},
                                 cursor)
    after_run(stores, run)


def run_view(run: dict, totals: dict) -> dict:
    """The seed's run shape (id, pipeline, startTime, endTime, passed[], failed[], error),
    with counts that are live while the run progresses, plus status and progress."""
    handled = totals["passed"][0] + totals["failed"][0]
    total = totals["total"]
    return {"id": run["_id"], "pipeline": run["pipeline"], "startTime": run["startTime"],
            "endTime": run.get("endTime"), "passed": totals["passed"], "failed": totals["failed"],
            "error": run.get("error") or "", "status": run["status"], "steps": list(STEPS),
            "priority": run.get("priority", "normal"),
            "incremental": run.get("incremental", False), "trigger": run.get("trigger"),
            "replay_of": run.get("replay_of"), "window": run.get("window"),
            "progress": {"read": handled, "total": total,
                         "percent": round(100.0 * handled / total, 1) if total else
                         (100.0 if run["status"].startswith("COMPLETED") else 0.0),
                         "chunks": totals["chunks"], "chunks_done": totals["chunks_done"]}}
