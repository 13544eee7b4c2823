"""How long the oldest waiting chunk has waited, per chunk queue, from the engine's own
records rather than the broker: it works on any broker. RabbitMQ cannot show a queue's
next message without taking it (basic_get then requeue reorders a queue and counts a
redelivery), so on RabbitMQ these ages are the ones reported; on Redis the broker's own
peek (shared.backlog) is used, which also covers the control queues.

A chunk waits from the moment its tier (or run) planned it, which is when its message was
first sent; it stops waiting once it is running (holds a lease), done or parked (a paused
job's chunks and those held back by a namespace cap are in MongoDB, not the broker, and
more workers would not start them)."""
from __future__ import annotations

from typing import Iterable

from shared.engine.admission import snapshot
from shared.settings import Settings
from shared.stores import Stores
from shared.tasknames import QUEUE_DEFAULT, lanes
from shared.timeutil import utcnow


def queue_of(namespace_id: str, assigned: dict[str, int], names: list[str]) -> str:
    """The chunk queue a namespace's chunks go to (its lane; the first one in fifo mode). Pure."""
    lane = assigned.get(namespace_id, 0)
    return names[lane] if 0 <= lane < len(names) else names[0]


def oldest_by_queue(waiting: Iterable[tuple[str, float]], names: list[str]) -> dict[str, float]:
    """(queue, seconds a job's oldest waiting chunk has waited) pairs → the longest wait of
    each queue; 0.0 for a queue with nothing waiting, as an empty Redis list reads. Pure."""
    ages = {q: 0.0 for q in names}
    for queue, age in waiting:
        ages[queue] = round(max(ages.get(queue, 0.0), age, 0.0), 3)
    return ages


def chunk_queue_ages(stores: Stores, settings: Settings) -> dict[str, float]:
    """Per chunk queue, seconds its oldest waiting chunk has waited."""
    names = lanes(settings.chunk_lanes) if settings.scheduler == "fair" else [QUEUE_DEFAULT]
    view = snapshot(stores)
    running = [lease["id"] for slot in stores.scheduler.namespaces() for lease in slot["leases"]]
    assigned = stores.scheduler.lanes()
    waiting = []
    now = utcnow()     # naive UTC, like the stored times
    for job in view.jobs.values():
        if job.paused or not job.waiting:
            continue
        sent = stores.scheduler.oldest_waiting(view.rows[job.job_id]["kind"], job.job_id, running)
        if sent is not None:
            waiting.append((queue_of(job.namespace_id, assigned, names), (now - sent).total_seconds()))
    return oldest_by_queue(waiting, names)
