"""Who goes next on a shared worker pool: pure decisions, no Celery, no MongoDB.

A chunk met by a worker is either run, put back at the tail of its queue (another job
deserves the slot more), or parked in MongoDB (its job is paused, or its namespace holds
all the chunks it may). Deserving is decided in this order:

1. effective priority: high > normal > low, where a job that has started nothing for
   `aging_s` seconds moves up one level per `aging_s` (so low work never starves);
2. the namespace holding fewer running chunks (fair share between tenants);
3. the job holding fewer running chunks (fair share between one tenant's batches/runs);
4. the job that has waited longest since it last started a chunk.

A candidate runs when no other waiting, eligible job ranks strictly better on 1-3, so equal
shares never bounce chunks back and forth. A chunk put back too often runs anyway
(`max_requeues`): a stale view can delay work but never loop it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

PRIORITIES = ("low", "normal", "high")
LEVEL = {name: i for i, name in enumerate(PRIORITIES)}
RUN, REQUEUE, PARK = "run", "requeue", "park"
MODES = ("fair", "fifo")


@dataclass(frozen=True)
class Job:
    """One active batch or run as the scheduler sees it."""

    job_id: str
    namespace_id: str
    priority: str = "normal"
    waiting: int = 0            # chunks enqueued and not started
    running: int = 0            # chunks holding a slot now
    idle_since: float = 0.0     # when it last started a chunk (or was created)
    paused: bool = False


@dataclass(frozen=True)
class Namespace:
    running: int = 0
    max_concurrent_chunks: int | None = None

    def full(self) -> bool:
        return self.max_concurrent_chunks is not None and self.running >= self.max_concurrent_chunks


def effective_level(job: Job, now: float, aging_s: float) -> int:
    """The job's priority level, raised one step per `aging_s` seconds without a start."""
    base = LEVEL.get(job.priority, LEVEL["normal"])
    if aging_s <= 0:
        return base
    waited = max(0.0, now - job.idle_since)
    return min(LEVEL["high"], base + int(waited // aging_s))


def rank(job: Job, namespaces: Mapping[str, Namespace], now: float, aging_s: float) -> tuple:
    """Smaller is more deserving."""
    ns = namespaces.get(job.namespace_id, Namespace())
    return (-effective_level(job, now, aging_s), ns.running, job.running, job.idle_since)


def eligible(job: Job, namespaces: Mapping[str, Namespace]) -> bool:
    return not job.paused and not namespaces.get(job.namespace_id, Namespace()).full()


def next_job(jobs: Iterable[Job], namespaces: Mapping[str, Namespace], now: float,
             aging_s: float) -> Job | None:
    """The job whose waiting chunk should take the next free slot, or None."""
    candidates = [j for j in jobs if j.waiting > 0 and eligible(j, namespaces)]
    if not candidates:
        return None
    return min(candidates, key=lambda j: (rank(j, namespaces, now, aging_s), j.job_id))


def decide(candidate: Job, jobs: Iterable[Job], namespaces: Mapping[str, Namespace], now: float,
           aging_s: float, mode: str = "fair", requeues: int = 0, max_requeues: int = 50) -> str:
    """What a worker does with a chunk of `candidate` it has just received: RUN, REQUEUE or PARK."""
    if candidate.paused or namespaces.get(candidate.namespace_id, Namespace()).full():
        return PARK
    if mode == "fifo" or requeues >= max_requeues:
        return RUN
    others = [j for j in jobs if j.job_id != candidate.job_id]
    best = next_job(others, namespaces, now, aging_s)
    if best is None:
        return RUN
    mine = rank(candidate, namespaces, now, aging_s)[:3]
    theirs = rank(best, namespaces, now, aging_s)[:3]
    return REQUEUE if theirs < mine else RUN


def check_priority(value: str | None) -> str | None:
    """None, or a valid priority name (callers validate input with this one list)."""
    if value is not None and value not in LEVEL:
        raise ValueError(f"must be one of {', '.join(PRIORITIES)}")
    return value
