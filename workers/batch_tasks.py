"""Batch tasks: thin wrappers that decode ids, call shared.engine, and classify errors.

Each tier runs as one chord: a header task per chunk (args: the chunk id only) and a
callback that closes the tier and launches the next tier's chord from what is in MongoDB.
Per-record failures never raise (they are counted); infrastructure errors are retried
with backoff and then fail the batch with a clear error."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery, chord
from celery.exceptions import SoftTimeLimitExceeded

from shared.engine import batches as engine
from shared.engine.batchretry import give_up_chunk
from shared.engine.causes import STORE_UNAVAILABLE, TASK_TIME_LIMIT
from shared.engine.chunk import process_chunk
from shared.retry import TRANSIENT_ERRORS
from shared.status import BatchStatus
from shared.tasknames import PROCESS_CHUNK, START_BATCH, TIER_DONE, WATCHDOG
from shared.timeutil import utcnow

log = logging.getLogger("sluice.batches")


def register(app: Celery) -> None:
    from workers.app import runtime

    def dispatch_tier(batch_id: str, tier_num: int, chunk_ids: list[str], suffix: str = "") -> None:
        callback = tier_done.si(batch_id, tier_num).set(task_id=f"{batch_id}:tier{tier_num}:done{suffix}")
        if not chunk_ids:
            callback.apply_async()
            return
        header = [process.si(cid).set(task_id=f"{cid}{suffix}") for cid in chunk_ids]
        chord(header)(callback)

    def launch(batch_id: str, tier_num: int, only_ids: dict | None = None) -> None:
        stores = runtime(app)
        chunk_ids = engine.launch_tier(stores, app.conf.sluice_settings, batch_id, tier_num, only_ids)
        log.info("batch %s tier %s: %d chunks", batch_id, tier_num, len(chunk_ids))
        dispatch_tier(batch_id, tier_num, chunk_ids)

    @app.task(name=START_BATCH, bind=True, acks_late=True, ignore_result=True, max_retries=5)
    def start_batch(self, batch_id: str) -> None:
        stores = runtime(app)
        try:
            batch = engine.start(stores, batch_id)
            if batch is None:
                return  # canceled before it started, or already started by a redelivery
            tier_num, only_ids = engine.start_plan(batch)
            launch(batch_id, tier_num, only_ids)
        except TRANSIENT_ERRORS as exc:
            if self.request.retries >= self.max_retries:
                engine.fail(stores, batch_id, f"could not start: {exc}")
                raise
            raise self.retry(exc=exc, countdown=2 ** self.request.retries)

    @app.task(name=PROCESS_CHUNK, bind=True, acks_late=True, max_retries=4)
    def process(self, chunk_id: str) -> dict:
        stores = runtime(app)
        try:
            # Records a slow chunk hands on run outside the tier's chord: the tier's callback
            # waits for them through the chunk rows (finish_tier says "wait").
            return process_chunk(stores, app.conf.sluice_settings, chunk_id, self.request.hostname,
                                 dispatch=lambda ids: [process.si(c).apply_async(task_id=c) for c in ids])
        except TRANSIENT_ERRORS as exc:
            if self.request.retries >= self.max_retries:
                return give_up(stores, chunk_id, STORE_UNAVAILABLE, f"failed after retries: {exc}")
            raise self.retry(exc=exc, countdown=min(30, 2 ** self.request.retries))
        except SoftTimeLimitExceeded:
            return give_up(stores, chunk_id, TASK_TIME_LIMIT, "exceeded the task time limit; lower "
                                                              "SLUICE_CHUNK_SIZE or the per-record JS limits")

    def give_up(stores, chunk_id: str, code: str, message: str) -> dict:
        """The chunk's records become infrastructure failures (a transient_only retry re-runs
        them) and the tier goes on; if even that cannot be written, the batch fails."""
        try:
            give_up_chunk(stores, chunk_id, code, message)
        except Exception as exc:  # noqa: BLE001 - the store is still down: the batch says why
            engine.fail(stores, chunk_id.split(":", 1)[0], f"chunk {chunk_id} {message} ({exc})")
            raise
        log.warning("chunk %s given up: %s", chunk_id, message)
        return {"gave_up": code}

    @app.task(name=TIER_DONE, bind=True, acks_late=True, ignore_result=True, max_retries=5)
    def tier_done(self, batch_id: str, tier_num: int) -> str:
        stores = runtime(app)
        try:
            outcome = engine.finish_tier(stores, batch_id, tier_num)
            if outcome == "next":
                launch(batch_id, tier_num + 1)
            elif outcome == "wait":
                # Poll until the stragglers finish; the watchdog re-dispatches them if they died.
                tier_done.si(batch_id, tier_num).apply_async(countdown=2)
            return outcome
        except TRANSIENT_ERRORS as exc:
            if self.request.retries >= self.max_retries:
                engine.fail(stores, batch_id, f"tier {tier_num} could not complete: {exc}")
                raise
            raise self.retry(exc=exc, countdown=2 ** self.request.retries)

    @app.task(name=WATCHDOG, ignore_result=True)
    def watchdog() -> dict:
        """Re-dispatch tiers with no chunk progress for stall_timeout_s; fail after 3 tries."""
        stores = runtime(app)
        settings = app.conf.sluice_settings
        cutoff = utcnow() - timedelta(seconds=settings.stall_timeout_s)
        acted = {"restarted": 0, "redispatched": 0, "failed": 0}
        for batch in stores.batches.stalled(cutoff, [BatchStatus.PENDING.value]):
            # The start message was lost (e.g. Redis lost its data): send it again; start is guarded.
            stores.batches.set_fields(batch["_id"], {"heartbeat_at": utcnow()})
            start_batch.apply_async((batch["_id"],), task_id=f"{batch['_id']}:start:w{batch['attempt']}")
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
                launch(batch["_id"], tier)
            else:
                pending = stores.batches.pending_chunks(batch["_id"], batch["attempt"], tier)
                log.warning("batch %s tier %s stalled; re-dispatching %d chunks", batch["_id"], tier, len(pending))
                dispatch_tier(batch["_id"], tier, [c["_id"] for c in pending], suffix=f":r{n}")
            acted["redispatched"] += 1
        return acted
