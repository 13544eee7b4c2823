"""Batch tasks: thin wrappers that decode ids, call shared.engine, and classify errors.

Each tier runs as one chord: a header task per chunk (args: the chunk id only) and a
callback that closes the tier and launches the next tier's chord from what is in MongoDB.
Per-record failures never raise (they are counted); infrastructure errors are retried
with backoff (workers.base) and then fail the batch with a clear error."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import chord
from celery.exceptions import SoftTimeLimitExceeded

from shared.causes import STORE_UNAVAILABLE, TASK_TIME_LIMIT
from shared.engine.batch import batches as engine
from shared.engine import limits
from shared.engine.batch.batchretry import give_up_chunk
from shared.engine.batch.chunk import process_chunk
from shared.retry import TRANSIENT_ERRORS
from shared.status import BatchStatus
from shared.tasknames import PROCESS_CHUNK, START_BATCH, TIER_DONE, WATCHDOG
from shared.timeutil import utcnow
from workers.base import Context, SluiceTask, chunk_failure, fail_job, fn
from workers.gating import lane, run_gated

log = logging.getLogger("sluice.batches")


def dispatch_tier(task: Context, batch_id: str, tier_num: int, chunk_ids: list[str], suffix: str = "") -> None:
    callback = task.sig(TIER_DONE, batch_id, tier_num).set(task_id=f"{batch_id}:tier{tier_num}:done{suffix}")
    if not chunk_ids:
        callback.apply_async()
        return
    queue = lane(task, task.stores.batches.get(batch_id)["namespace_id"])
    header = [task.sig(PROCESS_CHUNK, cid).set(task_id=f"{cid}{suffix}", queue=queue) for cid in chunk_ids]
    chord(header)(callback)


def launch(task: Context, batch_id: str, tier_num: int, only_ids: dict | None = None) -> None:
    chunk_ids = engine.launch_tier(task.stores, task.settings, batch_id, tier_num, only_ids)
    log.info("batch %s tier %s: %d chunks", batch_id, tier_num, len(chunk_ids))
    dispatch_tier(task, batch_id, tier_num, chunk_ids)


def start_batch(task: SluiceTask, batch_id: str) -> None:
    # Nothing started: canceled before it started, already started by a redelivery, or
    # queued behind its namespace's max_active_batches.
    launch_started(task, limits.start_or_queue(task.stores, batch_id))


def launch_started(task: Context, started: list[dict]) -> None:
    """Launch the first tier of each batch just started. A task may start batches other than
    its own (the oldest waiting first), so one that cannot be launched fails alone, with the
    reason, rather than failing the task's own batch through its give-up hook."""
    for batch in started:
        tier_num, only_ids = engine.start_plan(batch)
        try:
            launch(task, batch["_id"], tier_num, only_ids)
        except TRANSIENT_ERRORS:
            # Retrying the start task would not relaunch it (it is PROCESSING now); the
            # watchdog launches a tier that never was.
            log.warning("batch %s started but tier %s could not be launched yet", batch["_id"], tier_num,
                        exc_info=True)
        except Exception as exc:  # noqa: BLE001 - e.g. its collection was deleted after the trigger
            engine.fail(task.stores, batch["_id"], f"could not start: {exc}")


def start_next(ctx: Context) -> engine.EndListener:
    """The batch-end listener of a worker process: whichever way a batch ended (completed,
    failed in a give-up hook or by the watchdog, canceled), the namespace's oldest waiting
    batch starts now, launched from this process."""
    def on_end(stores: Any, batch: dict) -> None:
        if limits.next_to_start(stores, batch) is not None:
            launch_started(ctx, limits.start_queued(stores, batch["namespace_id"]))
    return on_end


def process(task: SluiceTask, chunk_id: str, requeues: int = 0) -> dict:
    # Records a slow chunk hands on, and chunks the fair-scheduling gate puts back or
    # parks, run outside the tier's chord: the tier's callback waits for them through the
    # chunk rows (finish_tier says "wait").
    try:
        return run_gated(task, "batch", chunk_id, requeues, lambda: process_chunk(
            task.stores, task.settings, chunk_id, task.request.hostname,
            dispatch=lambda ids: [task.send(PROCESS_CHUNK, c, task_id=c) for c in ids]))
    except SoftTimeLimitExceeded:
        return give_up(task, chunk_id, TASK_TIME_LIMIT, "exceeded the task time limit; lower "
                                                        "SLUICE_CHUNK_SIZE or the per-record JS limits")
    except TRANSIENT_ERRORS as exc:
        if task.request.retries < task.max_retries:
            raise   # retried with backoff by the task base class
        return give_up(task, chunk_id, STORE_UNAVAILABLE, f"failed after retries: {exc}")


def give_up(task: SluiceTask, chunk_id: str, code: str, message: str) -> dict:
    """The chunk's records become infrastructure failures (a transient_only retry re-runs
    them) and the tier goes on. If even that cannot be written, the error propagates and the
    task's give-up hook fails the batch."""
    give_up_chunk(task.stores, chunk_id, code, message)
    log.warning("chunk %s given up: %s", chunk_id, message)
    return {"gave_up": code}


def tier_done(task: SluiceTask, batch_id: str, tier_num: int) -> str:
    outcome = engine.finish_tier(task.stores, batch_id, tier_num)
    if outcome == "next":
        launch(task, batch_id, tier_num + 1)
    elif outcome == "wait":
        # Poll until the stragglers finish; the watchdog re-dispatches them if they died.
        task.send(TIER_DONE, batch_id, tier_num, countdown=2)
    return outcome


def watchdog(task: SluiceTask) -> dict:
    """Re-dispatch tiers with no chunk progress for stall_timeout_s; fail after 3 tries."""
    stores = task.stores
    cutoff = utcnow() - timedelta(seconds=task.settings.stall_timeout_s)
    acted = {"restarted": 0, "redispatched": 0, "failed": 0}
    for batch in stores.batches.stalled(cutoff, [BatchStatus.PENDING.value]):
        # The start message was lost (e.g. Redis lost its data): send it again; start is guarded.
        stores.batches.set_fields(batch["_id"], {"heartbeat_at": utcnow()})
        task.send(START_BATCH, batch["_id"], task_id=f"{batch['_id']}:start:w{batch['attempt']}")
        acted["restarted"] += 1
    for batch in stores.batches.stalled(cutoff, [BatchStatus.PROCESSING.value]):
        action, tier = engine.watchdog_action(batch)
        if action == "fail":
            engine.fail(stores, batch["_id"], "stalled: no progress after "
                                              f"{engine.MAX_REDISPATCHES} re-dispatches")
            acted["failed"] += 1
            continue
        n = batch.get("redispatches", 0) + 1
        stores.batches.set_fields(batch["_id"], {"redispatches": n, "heartbeat_at": utcnow()})
        if action == "launch":
            launch(task, batch["_id"], tier)
        else:
            pending = stores.batches.pending_chunks(batch["_id"], batch["attempt"], tier)
            log.warning("batch %s tier %s stalled; re-dispatching %d chunks", batch["_id"], tier, len(pending))
            dispatch_tier(task, batch["_id"], tier, [c["_id"] for c in pending], suffix=f":r{n}")
        acted["redispatched"] += 1
    return acted


FUNCTIONS = (
    # A start that raised for any reason (its collection deleted meanwhile, …) would raise
    # again: the batch fails now with the reason, freeing its place for the next one.
    fn(START_BATCH, start_batch, ignore_result=True, give_up_on=(Exception,),
       give_up=fail_job(engine.fail, lambda args, exc: f"could not start: {exc}")),
    fn(PROCESS_CHUNK, process, max_retries=4, give_up_on=(*TRANSIENT_ERRORS, SoftTimeLimitExceeded),
       give_up=fail_job(engine.fail, lambda args, exc: chunk_failure(args[0], exc))),
    fn(TIER_DONE, tier_done, ignore_result=True,
       give_up=fail_job(engine.fail, lambda args, exc: f"tier {args[1]} could not complete: {exc}")),
    fn(WATCHDOG, watchdog, ignore_result=True, autoretry_for=()),
)
