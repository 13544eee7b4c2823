"""Pipeline run tasks and the scheduling tick. Same shape as batches: a chord of chunk
tasks (argument: the chunk id) whose callback closes the run."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery, chord

from shared.engine import runs as engine
from shared.engine.backfill import next_window
from shared.engine.runchunk import process_run_chunk
from shared.engine.scheduler import tick
from shared.retry import TRANSIENT_ERRORS
from shared.tasknames import RUN_CHUNK, RUN_DONE, RUN_WATCHDOG, SCHEDULE_TICK, START_RUN
from shared.timeutil import utcnow

log = logging.getLogger("sluice.runs")


def register(app: Celery) -> None:
    from workers.app import runtime

    @app.task(name=START_RUN, bind=True, acks_late=True, ignore_result=True, max_retries=5)
    def start_run(self, run_id: str) -> int:
        stores = runtime(app)
        try:
            run = stores.runs.get(run_id)
            if run["status"] != "PENDING":
                return 0  # a redelivered start
            chunk_ids = engine.plan_run(stores, app.conf.sluice_settings, run_id)
        except TRANSIENT_ERRORS as exc:
            if self.request.retries >= self.max_retries:
                engine.fail_run(stores, run_id, f"could not start: {exc}")
                raise
            raise self.retry(exc=exc, countdown=2 ** self.request.retries)
        except Exception as exc:  # noqa: BLE001 - e.g. the source is unreachable: the run says why
            engine.fail_run(stores, run_id, f"could not read the source: {exc}")
            return 0
        dispatch(run_id, chunk_ids)
        return len(chunk_ids)

    def dispatch(run_id: str, chunk_ids: list[str], suffix: str = "") -> None:
        callback = run_done.si(run_id).set(task_id=f"{run_id}:done{suffix}")
        if chunk_ids:
            chord([run_chunk.si(c).set(task_id=f"{c}{suffix}") for c in chunk_ids])(callback)
        else:
            callback.apply_async()

    @app.task(name=RUN_CHUNK, bind=True, acks_late=True, max_retries=4)
    def run_chunk(self, chunk_id: str) -> dict:
        stores = runtime(app)
        try:
            # Records a slow chunk hands on: run_done waits for them through the chunk rows.
            return process_run_chunk(stores, app.conf.sluice_settings, chunk_id,
                                     dispatch=lambda ids: [run_chunk.si(c).apply_async(task_id=c) for c in ids])
        except TRANSIENT_ERRORS as exc:
            if self.request.retries >= self.max_retries:
                engine.fail_run(stores, chunk_id.split(":", 1)[0], f"chunk {chunk_id} failed after retries: {exc}")
                raise
            raise self.retry(exc=exc, countdown=min(30, 2 ** self.request.retries))
        except Exception as exc:
            # Not a record's fault (those are counted): the run stops with the reason.
            engine.fail_run(stores, chunk_id.split(":", 1)[0], f"chunk {chunk_id}: {type(exc).__name__}: {exc}")
            raise

    @app.task(name=RUN_DONE, bind=True, acks_late=True, ignore_result=True, max_retries=5)
    def run_done(self, run_id: str) -> str:
        stores = runtime(app)
        outcome = engine.finish_run(stores, run_id)
        if outcome == "wait":
            run_done.si(run_id).apply_async(countdown=2)
        elif outcome == "done":
            # A backfill's next window starts as soon as this one ended (the tick is the backstop).
            following = next_window(stores, stores.runs.get(run_id)["pipeline"])
            if following is not None:
                start_run.apply_async((following["_id"],), task_id=f"{following['_id']}:start")
        return outcome

    @app.task(name=SCHEDULE_TICK, ignore_result=True)
    def schedule_tick() -> dict:
        stores = runtime(app)
        summary = tick(stores, utcnow(),
                       lambda run: start_run.apply_async((run["_id"],), task_id=f"{run['_id']}:start"))
        if summary["fired"] or summary["skipped"] or summary.get("backfill"):
            log.info("schedule tick: %s", summary)
        return summary

    @app.task(name=RUN_WATCHDOG, ignore_result=True)
    def run_watchdog() -> dict:
        """Runs that made no progress for stall_timeout_s: re-send a lost start, re-dispatch
        unfinished chunks (an empty set fires the lost callback), fail after 3 tries."""
        stores = runtime(app)
        cutoff = utcnow() - timedelta(seconds=app.conf.sluice_settings.stall_timeout_s)
        acted = {"restarted": 0, "redispatched": 0, "failed": 0}
        for run in stores.runs.stalled(cutoff, ["PENDING", "RUNNING"]):
            n = run.get("redispatches", 0) + 1
            if n > 3:
                engine.fail_run(stores, run["_id"], "stalled: no progress after 3 re-dispatches")
                acted["failed"] += 1
                continue
            stores.runs.set_fields(run["_id"], {"redispatches": n, "heartbeat_at": utcnow()})
            if run["status"] == "PENDING":
                start_run.apply_async((run["_id"],), task_id=f"{run['_id']}:start:w{n}")
                acted["restarted"] += 1
            else:
                dispatch(run["_id"], [c["_id"] for c in stores.runs.ledger.pending(run["_id"])], suffix=f":r{n}")
                acted["redispatched"] += 1
        return acted
