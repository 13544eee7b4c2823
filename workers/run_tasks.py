"""Pipeline run tasks and the scheduling tick. Same shape as batches: a chord of chunk
tasks (argument: the chunk id) whose callback closes the run."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import chord

from shared.engine.runs import runs as engine
from shared.engine.runs.backfill import next_window
from shared.engine.runs.runchunk import process_run_chunk
from shared.engine.runs.scheduler import tick
from shared.tasknames import RUN_CHUNK, RUN_DONE, RUN_WATCHDOG, SCHEDULE_TICK, START_RUN
from shared.timeutil import utcnow
from workers.base import Context, SluiceTask, chunk_failure, fail_job, fn
from workers.gating import lane, run_gated

log = logging.getLogger("sluice.runs")


def start_run(task: SluiceTask, run_id: str) -> int:
    stores = task.stores
    run = stores.runs.get(run_id)
    if run["status"] != "PENDING":
        return 0  # a redelivered start
    try:
        chunk_ids = engine.plan_run(stores, task.settings, run_id)
    except task.autoretry_for:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. the source is unreachable: the run says why
        engine.fail_run(stores, run_id, f"could not read the source: {exc}")
        return 0
    dispatch(task, run_id, chunk_ids)
    return len(chunk_ids)


def dispatch(task: Context, run_id: str, chunk_ids: list[str], suffix: str = "") -> None:
    callback = task.sig(RUN_DONE, run_id).set(task_id=f"{run_id}:done{suffix}")
    if chunk_ids:
        queue = lane(task, task.stores.runs.get(run_id)["namespace_id"])
        chord([task.sig(RUN_CHUNK, c).set(task_id=f"{c}{suffix}", queue=queue) for c in chunk_ids])(callback)
    else:
        callback.apply_async()


def run_chunk(task: SluiceTask, chunk_id: str, requeues: int = 0) -> dict:
    # Records a slow chunk hands on, and chunks the gate puts back or parks: run_done
    # waits for them through the chunk rows.
    return run_gated(task, "run", chunk_id, requeues, lambda: process_run_chunk(
        task.stores, task.settings, chunk_id,
        dispatch=lambda ids: [task.send(RUN_CHUNK, c, task_id=c) for c in ids]))


def run_done(task: SluiceTask, run_id: str) -> str:
    outcome = engine.finish_run(task.stores, run_id)
    if outcome == "wait":
        task.send(RUN_DONE, run_id, countdown=2)
    elif outcome == "done":
        # A backfill's next window starts as soon as this one ended (the tick is the backstop).
        following = next_window(task.stores, task.stores.runs.get(run_id)["pipeline"])
        if following is not None:
            task.send(START_RUN, following["_id"], task_id=f"{following['_id']}:start")
    return outcome


def schedule_tick(task: SluiceTask) -> dict:
    summary = tick(task.stores, utcnow(),
                   lambda run: task.send(START_RUN, run["_id"], task_id=f"{run['_id']}:start"))
    if summary["fired"] or summary["skipped"] or summary.get("backfill"):
        log.info("schedule tick: %s", summary)
    return summary


def run_watchdog(task: SluiceTask) -> dict:
    """Runs that made no progress for stall_timeout_s: re-send a lost start, re-dispatch
    unfinished chunks (an empty set fires the lost callback), fail after 3 tries."""
    stores = task.stores
    cutoff = utcnow() - timedelta(seconds=task.settings.stall_timeout_s)
    acted = {"restarted": 0, "redispatched": 0, "failed": 0}
    for run in stores.runs.stalled(cutoff, ["PENDING", "RUNNING"]):
        n = run.get("redispatches", 0) + 1
        if n > 3:
            engine.fail_run(stores, run["_id"], "stalled: no progress after 3 re-dispatches")
            acted["failed"] += 1
            continue
        stores.runs.set_fields(run["_id"], {"redispatches": n, "heartbeat_at": utcnow()})
        if run["status"] == "PENDING":
            task.send(START_RUN, run["_id"], task_id=f"{run['_id']}:start:w{n}")
            acted["restarted"] += 1
        else:
            dispatch(task, run["_id"], [c["_id"] for c in stores.runs.ledger.pending(run["_id"])], suffix=f":r{n}")
            acted["redispatched"] += 1
    return acted


FUNCTIONS = (
    fn(START_RUN, start_run, ignore_result=True,
       give_up=fail_job(engine.fail_run, lambda args, exc: f"could not start: {exc}")),
    # Not a record's fault (those are counted): any error stops the run with the reason.
    fn(RUN_CHUNK, run_chunk, max_retries=4, give_up_on=(Exception,),
       give_up=fail_job(engine.fail_run, lambda args, exc: chunk_failure(args[0], exc))),
    fn(RUN_DONE, run_done, ignore_result=True),
    fn(SCHEDULE_TICK, schedule_tick, ignore_result=True, autoretry_for=()),
    fn(RUN_WATCHDOG, run_watchdog, ignore_result=True, autoretry_for=()),
)
