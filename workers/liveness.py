"""The worker's heartbeat thread: it runs in the worker's main process (never in a pool
child, so a child busy with a slow chunk cannot silence it), and every
SLUICE_WORKER_HEARTBEAT_S it

1. records that this worker process is alive (MongoDB server time);
2. marks the chunk rows of the chunk messages this process holds, running or prefetched;
3. under a short lease, runs the recovery sweep (shared.engine.recovery) for everyone.

Started by the `worker_ready` signal, stopped by `worker_shutdown`."""
from __future__ import annotations

import logging
import os
import secrets
import threading
from datetime import datetime
from typing import Any

from celery import Celery, signals

from shared.engine import liveness, recovery
from shared.tasknames import PROCESS_CHUNK, QUEUE_DEFAULT, RUN_CHUNK, START_BATCH, START_RUN
from workers import broker
from workers.base import AppContext
from workers.batch_tasks import dispatch_tier, launch
from workers.run_tasks import dispatch as dispatch_run

log = logging.getLogger("sluice.liveness")


class CeleryDispatcher(AppContext):
    """recovery.Dispatcher over Celery: enqueue by task name."""

    def tier(self, batch_id: str, tier_num: int, chunk_ids: list[str], suffix: str) -> None:
        dispatch_tier(self, batch_id, tier_num, chunk_ids, suffix=suffix)

    def launch(self, batch_id: str, tier_num: int) -> None:
        launch(self, batch_id, tier_num)

    def run(self, run_id: str, chunk_ids: list[str], suffix: str) -> None:
        dispatch_run(self, run_id, chunk_ids, suffix=suffix)

    def start_batch(self, batch_id: str, suffix: str) -> None:
        self.send(START_BATCH, batch_id, task_id=f"{batch_id}:start{suffix}")

    def start_run(self, run_id: str, suffix: str) -> None:
        self.send(START_RUN, run_id, task_id=f"{run_id}:start{suffix}")


def held_chunks() -> dict[str, list[str]]:
    """Chunk ids this process has received and not finished, by task name."""
    from celery.worker import state

    for _ in range(3):   # the consumer thread may change the map while we copy it
        try:
            requests = list(state.requests.values())   # reserved, running and ETA-scheduled
            break
        except RuntimeError:
            continue
    else:
        requests = []
    out: dict[str, list[str]] = {PROCESS_CHUNK: [], RUN_CHUNK: []}
    for req in requests:
        if req.name in out and req.args:
            out[req.name].append(req.args[0])
    return out


class Heartbeat(threading.Thread):
    def __init__(self, app: Celery, hostname: str):
        super().__init__(name="sluice-heartbeat", daemon=True)
        self.app, self.settings = app, app.conf.sluice_settings
        # A restarted process with the same host name is another worker: its predecessor's
        # chunks must still be judged by the predecessor's silence.
        self.worker = f"{hostname}#{os.getpid()}-{secrets.token_hex(3)}"
        self.dispatcher = CeleryDispatcher(app)
        self.stopping = threading.Event()
        self.previous: datetime | None = None
        self.streak: datetime | None = None
        self.fresh = True

    def run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - the store or broker is away: beat again later
                log.warning("heartbeat of %s failed: %s: %s", self.worker, type(exc).__name__, exc)
            if self.stopping.wait(self.settings.worker_heartbeat_s):
                return

    def beat(self) -> None:
        stores = self.dispatcher.stores
        held = held_chunks()
        now = stores.workers.beat(self.worker, {"pid": os.getpid(), "held": sum(map(len, held.values()))})
        streak = liveness.next_streak_start(self.previous, self.streak, now, self.settings.worker_heartbeat_s)
        self.fresh = self.fresh and (self.streak is None or streak == self.streak)
        self.previous, self.streak = now, streak
        stores.batches.ledger.mark_held(held[PROCESS_CHUNK], self.worker)
        stores.runs.ledger.mark_held(held[RUN_CHUNK], self.worker)
        if not stores.workers.claim_sweep(self.worker, now, self.settings.worker_heartbeat_s):
            return
        obs = liveness.Observer(now, streak, self.fresh, stores.workers.store_started_at())
        reset = broker.lost_its_data(self.settings)
        acted = recovery.sweep(stores, self.settings, obs, self.dispatcher,
                               lambda: broker.depth(self.settings, QUEUE_DEFAULT), broker_reset=reset)
        if reset:
            broker.mark_epoch(self.settings)
        if acted:
            log.warning("recovery sweep: %s", acted)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        try:
            self.dispatcher.stores.workers.gone(self.worker)
        except Exception:  # noqa: BLE001 - then the others judge it by its silence
            pass


_beats: dict[int, Heartbeat] = {}


def install(app: Celery) -> None:
    """Start the heartbeat when this process becomes a worker (not in beat or the API)."""

    @signals.worker_ready.connect(weak=False)
    def _start(sender: Any = None, **_: Any) -> None:
        if sender is None or sender.app is not app:
            return
        hb = Heartbeat(app, sender.hostname)
        _beats[id(app)] = hb
        hb.start()

    @signals.worker_shutdown.connect(weak=False)
    def _stop(sender: Any = None, **_: Any) -> None:
        hb = _beats.pop(id(app), None)
        if hb is not None:
            hb.stop()
