"""Pause and resume a batch or a pipeline run. Paused, no new chunk starts: a worker that
meets one of its queued chunks parks it in MongoDB (one small update) instead of running
it, and chunks in progress finish and count. Resume sends the parked chunks again and the
job's completion check, which waits for every chunk row, so counters stay exact."""
from __future__ import annotations

import secrets
from typing import Any, Callable

from shared.engine.admission import release_parked
from shared.errors import Conflict
from shared.status import BatchStatus, RunStatus, is_terminal
from shared.stores import Stores
from shared.tasknames import PROCESS_CHUNK, RUN_CHUNK, RUN_DONE, TIER_DONE
from shared.timeutil import utcnow

# send(task_name, args, task_id=...): enqueue by name (the API's TaskSender.send)
Send = Callable[..., Any]
RUNNING = {"batch": BatchStatus.PROCESSING.value, "run": RunStatus.RUNNING.value}
PAUSED = BatchStatus.PAUSED.value


def _store(stores: Stores, kind: str) -> Any:
    return stores.batches if kind == "batch" else stores.runs


def pause(stores: Stores, kind: str, job_id: str, namespace_id: str) -> dict:
    store = _store(stores, kind)
    job = store.get(job_id, namespace_id)
    if job["status"] == PAUSED:
        return job
    if is_terminal(kind, job["status"]):
        raise Conflict(f"{kind} is already {job['status']}", code=f"{kind}_finished")
    paused = store.transition(job_id, PAUSED, {"paused_at": utcnow()})
    stores.scheduler.bump()
    if paused is None:
        raise Conflict(f"{kind} has not started yet; cancel it instead", code=f"{kind}_not_started")
    return paused


def resume(stores: Stores, kind: str, job_id: str, namespace_id: str, send: Send) -> dict:
    store = _store(stores, kind)
    job = store.get(job_id, namespace_id)
    if job["status"] != PAUSED:
        raise Conflict(f"{kind} is {job['status']}, not PAUSED", code=f"{kind}_not_paused")
    # heartbeat_at restarts the watchdog's stall clock: the paused time was no stall.
    resumed = store.transition(job_id, RUNNING[kind], {"heartbeat_at": utcnow(), "paused_at": None})
    stores.scheduler.bump()
    if resumed is None:
        return store.get(job_id)
    task = PROCESS_CHUNK if kind == "batch" else RUN_CHUNK
    release_parked(stores, kind, job_id, lambda _k, cid, n: send(
        task, (cid, n), task_id=f"{cid}:{secrets.token_hex(4)}"))
    # The tier's (or run's) callback may have fired while paused and stopped; ask again.
    tag = secrets.token_hex(3)
    if kind == "batch":
        tier = resumed.get("current_tier", 0)
        send(TIER_DONE, (job_id, tier), task_id=f"{job_id}:tier{tier}:resume{tag}")
    else:
        send(RUN_DONE, (job_id,), task_id=f"{job_id}:done:resume{tag}")
    return resumed
