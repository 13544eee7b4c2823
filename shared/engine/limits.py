"""A namespace's `max_active_batches`: a batch started beyond it stays PENDING (marked
`queued`) and starts, oldest first, when one of the namespace's active batches ends."""
from __future__ import annotations

import time

from shared.engine.batch import batches as engine
from shared.engine.admission import limits_of
from shared.status import BatchStatus
from shared.stores import Stores
from shared.timeutil import utcnow

HELD = [BatchStatus.PROCESSING.value, BatchStatus.PAUSED.value]
LOCK_S = 10.0


def start_or_queue(stores: Stores, batch_id: str) -> list[dict]:
    """Start this batch, or queue it behind its namespace's cap; returns the batches that
    were started now (this one, or older queued ones whose turn it is)."""
    batch = stores.batches.get(batch_id)
    limit = limits_of(stores.namespaces.find(batch["namespace_id"]))["max_active_batches"]
    if limit is None:
        started = engine.start(stores, batch_id)
        return [started] if started is not None else []
    stores.batches.set_fields(batch_id, {"queued": True}, when={"status": BatchStatus.PENDING.value})
    started = start_queued(stores, batch["namespace_id"])
    if all(b["_id"] != batch_id for b in started):
        # It waits behind the cap: say since when, durably (`queued` clears once it starts);
        # a start sent again later keeps the first time.
        stores.batches.set_fields(batch_id, {"queued_at": utcnow()},
                                  when={"status": BatchStatus.PENDING.value, "queued": True, "queued_at": None})
    return started


def next_to_start(stores: Stores, batch: dict) -> dict | None:
    """After `batch` ended: the namespace's oldest batch waiting to start, if any (one read;
    the caller then starts it with start_queued)."""
    return stores.scheduler.oldest_pending(batch["namespace_id"], BatchStatus.PENDING.value)


def start_queued(stores: Stores, namespace_id: str) -> list[dict]:
    """Start the namespace's queued batches, oldest first, while it is under its cap."""
    limit = limits_of(stores.namespaces.find(namespace_id))["max_active_batches"]
    # Held for milliseconds; waiting for it (rather than leaving) means a batch queued
    # just after the holder looked is never stranded.
    for _ in range(100):
        if stores.scheduler.lock(namespace_id, LOCK_S):
            break
        time.sleep(0.05)
    else:
        return []
    started: list[dict] = []
    try:
        for _ in range(1000):
            if limit is not None and stores.scheduler.batches_in(namespace_id, HELD) >= limit:
                break
            nxt = stores.scheduler.oldest_pending(namespace_id, BatchStatus.PENDING.value)
            if nxt is None:
                break
            stores.batches.set_fields(nxt["_id"], {"queued": False})
            batch = engine.start(stores, nxt["_id"])
            if batch is not None:
                started.append(batch)
    finally:
        stores.scheduler.unlock(namespace_id)
    return started
