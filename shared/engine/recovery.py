"""The recovery sweep: what a worker's heartbeat thread does every few seconds (one worker
at a time, under a lease) so that a lost worker or a lost broker costs seconds.

- chunks held by a dead worker are sent again (liveness.dead_owners);
- a tier or run whose chunks are all done but which stayed open lost its chord callback:
  the callback is sent again (it is guarded: it closes a tier once, says "wait" while chunks
  are pending, "stop" for a duplicate);
- unfinished chunks nobody holds and nothing queued (liveness.orphaned) are sent again;
- after the broker (or result backend) lost its data, every active job's unfinished work
  is sent again at once;
- a start that never arrived (the broker was down when the API enqueued it) is sent again.

The stall watchdog stays as the last resort for anything these rules cannot see.
Duplicates are harmless: chunk rows complete exactly once and documents are upserts."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol

from shared.engine.batch.batches import watchdog_action
from shared.engine.liveness import Observer, dead_owners, is_dead, lost_callback, may_judge, orphaned
from shared.settings import Settings
from shared.status import BatchStatus, RunStatus

log = logging.getLogger("sluice.recovery")


class Dispatcher(Protocol):
    """How the sweep enqueues work; the worker implements it with Celery (by task name)."""

    def tier(self, batch_id: str, tier_num: int, chunk_ids: list[str], suffix: str) -> None: ...
    def launch(self, batch_id: str, tier_num: int) -> None: ...
    def run(self, run_id: str, chunk_ids: list[str], suffix: str) -> None: ...
    def start_batch(self, batch_id: str, suffix: str) -> None: ...
    def start_run(self, run_id: str, suffix: str) -> None: ...


def sweep(stores: Any, settings: Settings, obs: Observer, send: Dispatcher,
          queued: Callable[[], int | None], broker_reset: bool = False) -> dict[str, int]:
    """One pass; returns what it did. `queued()` is the depth of the chunk queue (None: unknown)."""
    acted: dict[str, int] = defaultdict(int)
    suffix = f":s{int(obs.now.timestamp())}"
    beats = stores.workers.beats()
    dead_after = settings.worker_dead_after_s
    alive = {w for w, at in beats.items() if not is_dead(at, obs.now, dead_after)}
    for kind, ledger in (("batch", stores.batches.ledger), ("run", stores.runs.ledger)):
        for worker in dead_owners(ledger.holders(), beats, obs, dead_after):
            rows = ledger.held_by(worker)
            log.warning("worker %s stopped beating; sending its %d %s chunks again", worker, len(rows), kind)
            _redispatch_rows(stores, kind, rows, send, suffix)
            ledger.release([r["_id"] for r in rows], worker)
            stores.workers.forget(worker, obs.now - timedelta(seconds=dead_after))
            acted["dead_workers"] += 1
            acted["chunks"] += len(rows)
    judge = may_judge(obs, dead_after)
    depth: list[int | None] = []   # read at most once per sweep, and only when needed

    def queue_empty_for(pending: list[dict], progress: datetime | None) -> bool:
        if not judge:
            return False
        if not depth:
            depth.append(queued())
        return orphaned([r.get("held_by") for r in pending], alive, depth[0], progress, obs.now,
                        settings.recovery_grace_s)

    for batch in stores.batches.active():
        if _due(batch, obs.now, settings.recovery_grace_s, broker_reset):
            _batch(stores, batch, obs, send, suffix, broker_reset, queue_empty_for, settings, acted)
    for run in stores.runs.active():
        if _due(run, obs.now, settings.recovery_grace_s, broker_reset):
            _run(stores, run, obs, send, suffix, broker_reset, queue_empty_for, settings, acted)
    return dict(acted)


def _due(job: dict, now: datetime, grace_s: float, broker_reset: bool) -> bool:
    """A job the sweep acted on waits `grace_s` before it is looked at again."""
    last = job.get("recovered_at")
    return broker_reset or last is None or now - last > timedelta(seconds=grace_s)


def _batch(stores: Any, batch: dict, obs: Observer, send: Dispatcher, suffix: str, reset: bool,
           queue_empty_for: Callable[[list[dict], datetime | None], bool], settings: Settings,
           acted: dict[str, int]) -> None:
    bid, grace, progress = batch["_id"], settings.recovery_grace_s, batch.get("heartbeat_at")
    stale = progress is None or obs.now - progress > timedelta(seconds=grace)
    if batch["status"] == BatchStatus.PENDING.value:
        if reset or stale:
            send.start_batch(bid, suffix)
            _mark(stores.batches, bid, obs.now, acted, "starts")
        return
    tier = batch.get("current_tier", 0)
    pending = stores.batches.pending_chunks(bid, batch["attempt"], tier)
    status = batch["tiers"][tier]["status"]
    if pending and (reset or queue_empty_for(pending, progress)):
        log.warning("batch %s tier %s: sending %d unfinished chunks again", bid, tier, len(pending))
        send.tier(bid, tier, [r["_id"] for r in pending], suffix)
        _mark(stores.batches, bid, obs.now, acted, "tiers")
    elif not pending and (reset or lost_callback(status, 0, progress, obs.now, grace)):
        send.tier(bid, tier, [], suffix)          # an empty chord: the callback alone
        _mark(stores.batches, bid, obs.now, acted, "callbacks")
    elif (reset or stale) and watchdog_action(batch)[0] == "launch":
        send.launch(bid, watchdog_action(batch)[1])
        _mark(stores.batches, bid, obs.now, acted, "launches")


def _run(stores: Any, run: dict, obs: Observer, send: Dispatcher, suffix: str, reset: bool,
         queue_empty_for: Callable[[list[dict], datetime | None], bool], settings: Settings,
         acted: dict[str, int]) -> None:
    rid, grace, progress = run["_id"], settings.recovery_grace_s, run.get("heartbeat_at")
    if run["status"] == RunStatus.PENDING.value:
        if reset or progress is None or obs.now - progress > timedelta(seconds=grace):
            send.start_run(rid, suffix)
            _mark(stores.runs, rid, obs.now, acted, "starts")
        return
    pending = stores.runs.ledger.pending(rid)
    if pending and (reset or queue_empty_for(pending, progress)):
        send.run(rid, [r["_id"] for r in pending], suffix)
        _mark(stores.runs, rid, obs.now, acted, "runs")
    elif not pending and (reset or lost_callback("PROCESSING", 0, progress, obs.now, grace)):
        send.run(rid, [], suffix)
        _mark(stores.runs, rid, obs.now, acted, "callbacks")


def _redispatch_rows(stores: Any, kind: str, rows: list[dict], send: Dispatcher, suffix: str) -> None:
    groups: dict[tuple, list[str]] = defaultdict(list)
    for r in rows:
        groups[(r["batch_id"], r["attempt"], r["tier_num"]) if kind == "batch" else (r["run_id"],)].append(r["_id"])
    for key, ids in groups.items():
        if kind == "run":
            if stores.runs.get(key[0])["status"] == RunStatus.RUNNING.value:
                send.run(key[0], ids, suffix)
            continue
        batch = stores.batches.get(key[0])
        if batch["status"] == BatchStatus.PROCESSING.value and batch["attempt"] == key[1]:
            send.tier(key[0], key[2], ids, suffix)


def _mark(store: Any, job_id: str, now: datetime, acted: dict[str, int], what: str) -> None:
    store.set_fields(job_id, {"recovered_at": now})
    acted[what] += 1
