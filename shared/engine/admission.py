"""The gate every chunk passes before it runs: read what the pool is doing, ask the pure
decision (shared.engine.fairness) and act on it — run under a lease, put the chunk back at
the tail of its queue, or park it in MongoDB until its job is resumed or its namespace has
room again. Plain functions over stores; sending is passed in as `resend`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from shared.engine import fairness
from shared.engine.fairness import PARK, REQUEUE, RUN, Job, Namespace
from shared.settings import Settings
from shared.status import BatchStatus, RunStatus
from shared.stores import Stores
from shared.tasknames import lanes

# resend(kind, chunk_id, requeues): enqueue a chunk again (a new message, outside any chord)
Resend = Callable[[str, str, int], None]

ACTIVE = {"batch": [BatchStatus.PROCESSING.value, BatchStatus.PAUSED.value],
          "run": [RunStatus.RUNNING.value, RunStatus.PAUSED.value]}
PAUSED = BatchStatus.PAUSED.value  # same word for runs
OWNER = {"batch": "batch_id", "run": "run_id"}
DEFAULT_LIMITS = {"max_concurrent_chunks": None, "max_active_batches": None, "default_priority": "normal",
                  "requests_per_second": None, "burst": None}


def limits_of(namespace: dict | None) -> dict:
    """A namespace's limits; rows written before limits existed have none (all defaults)."""
    return {**DEFAULT_LIMITS, **((namespace or {}).get("limits") or {})}


def resolve_priority(stores: Stores, namespace_id: str, requested: str | None) -> str:
    """The priority asked for, else the namespace's default."""
    return requested or limits_of(stores.namespaces.find(namespace_id))["default_priority"] or "normal"


@dataclass
class View:
    """What the pool is doing now, as the pure decision needs it."""

    jobs: dict[str, Job]
    namespaces: dict[str, Namespace]
    rows: dict[str, dict]            # job id -> its active row (kind, namespace_id, priority, status)


def snapshot(stores: Stores) -> View:
    rows = {r["_id"]: r for r in stores.scheduler.active(ACTIVE)}
    ns_ids = sorted({r["namespace_id"] for r in rows.values()})
    limits = {d["_id"]: limits_of(d) for d in stores.namespaces.with_limits(ns_ids)}
    running_by_job: dict[str, int] = {}
    running_by_ns: dict[str, int] = {}
    for slot in stores.scheduler.namespaces():
        running_by_ns[slot["_id"]] = len(slot["leases"])
        for lease in slot["leases"]:
            running_by_job[lease["job"]] = running_by_job.get(lease["job"], 0) + 1
    namespaces = {ns: Namespace(running_by_ns.get(ns, 0), limits.get(ns, DEFAULT_LIMITS)["max_concurrent_chunks"])
                  for ns in set(ns_ids) | set(running_by_ns)}
    jobs = {}
    for job_id, r in rows.items():
        running = running_by_job.get(job_id, 0)
        paused = r["status"] == PAUSED
        waiting = 0 if paused else max(0, stores.scheduler.waiting(r["kind"], job_id) - running)
        idle = r.get("idle_since")
        jobs[job_id] = Job(job_id, r["namespace_id"], r.get("priority") or "normal", waiting, running,
                           idle.timestamp() if idle is not None else 0.0, paused)
    return View(jobs, namespaces, rows)


@dataclass(frozen=True)
class Admission:
    action: str                      # fairness.RUN | REQUEUE | PARK
    namespace_id: str | None = None  # set when a lease was taken (release it after the chunk)
    job_id: str | None = None


# The view of the pool a process decides with is re-read when a job started, paused or
# resumed since (one small read tells), else at most every RECENT_S: reading it costs a
# handful of queries, which on short chunks measurably cut throughput. Between, only the
# running counts can be a little old: caps are exact anyway (the lease is one conditional
# update) and pause is re-checked by the chunk itself.
RECENT_S = 0.5
_recent: dict[str, tuple[float, int, View]] = {}


def _decide(stores: Stores, settings: Settings, job_id: str, requeues: int) -> tuple[str, View]:
    cached = _recent.get("view")
    gen = stores.scheduler.generation()
    if cached is None or time.monotonic() - cached[0] > RECENT_S or cached[1] != gen:
        cached = (time.monotonic(), gen, snapshot(stores))
        _recent["view"] = cached
    view = cached[2]
    job = view.jobs.get(job_id)
    if job is None:
        return RUN, view
    return fairness.decide(job, view.jobs.values(), view.namespaces, time.time(), settings.priority_aging_s,
                           settings.scheduler, requeues, settings.max_requeues), view


def admit(stores: Stores, settings: Settings, kind: str, chunk: dict, requeues: int) -> Admission:
    """Decide for one chunk a worker has just received; a RUN holds a lease on a slot."""
    job_id = chunk[OWNER[kind]]
    action, view = _decide(stores, settings, job_id, requeues)
    job = view.jobs.get(job_id)
    if job is None:
        return Admission(RUN)      # not active: the chunk body skips it at no cost
    if action != RUN:
        return Admission(action)
    limit = view.namespaces[job.namespace_id].max_concurrent_chunks
    if not stores.scheduler.acquire(job.namespace_id, job_id, chunk["_id"], limit, settings.task_time_limit_s):
        return Admission(PARK)
    return Admission(RUN, job.namespace_id, job_id)


def park(stores: Stores, kind: str, chunk: dict, resend: Resend) -> None:
    """Keep the chunk in MongoDB instead of the broker. A resume or a freed slot that raced
    with this may have looked for parked chunks before this one was marked: look again."""
    if stores.scheduler.park(kind, chunk["_id"]):
        release_parked(stores, kind, chunk[OWNER[kind]], resend)


def release_parked(stores: Stores, kind: str, job_id: str, resend: Resend) -> int:
    """Send a job's parked chunks again, as many as its namespace has room for (all when it
    has no cap); none while the job is paused. Returns how many were sent."""
    view = snapshot(stores)
    job = view.jobs.get(job_id)
    if job is None or job.paused:
        return 0
    ns = view.namespaces.get(job.namespace_id, Namespace())
    room = None if ns.max_concurrent_chunks is None else max(0, ns.max_concurrent_chunks - ns.running)
    if room == 0:
        return 0
    sent = 0
    for chunk_id in stores.scheduler.parked(kind, job_id, limit=room or 0):
        if stores.scheduler.unpark(kind, chunk_id):
            resend(kind, chunk_id, 0)
            sent += 1
    return sent


def done(stores: Stores, kind: str, admission: Admission, chunk_id: str, resend: Resend) -> None:
    """After a chunk ran: free its slot, and hand the slot to a chunk parked for it."""
    if admission.namespace_id is None:
        return
    stores.scheduler.release(admission.namespace_id, chunk_id)
    if limits_of(stores.namespaces.find(admission.namespace_id))["max_concurrent_chunks"] is None:
        return
    view = snapshot(stores)
    for job in sorted(view.jobs.values(), key=lambda j: j.idle_since):
        if job.namespace_id == admission.namespace_id and not job.paused:
            if release_parked(stores, view.rows[job.job_id]["kind"], job.job_id, resend):
                return


def gated(stores: Stores, settings: Settings, kind: str, chunk_id: str, requeues: int,
          work: Callable[[], dict], resend: Resend) -> dict:
    """Run `work` for one chunk if the gate lets it, else put it back or park it."""
    chunk = stores.scheduler.ledgers[kind].get(chunk_id)
    if chunk is None or chunk.get("done"):
        return {"skipped": True}
    admission = admit(stores, settings, kind, chunk, requeues)
    if admission.action == REQUEUE:
        resend(kind, chunk_id, requeues + 1)
        return {"requeued": True}
    if admission.action == PARK:
        park(stores, kind, chunk, resend)
        return {"parked": True}
    try:
        result = work()
    finally:
        done(stores, kind, admission, chunk_id, resend)
    if result.get("paused"):
        # Paused between the gate and the chunk's own status check: nothing ran; park it.
        park(stores, kind, chunk, resend)
    return result


def backlog(stores: Stores) -> list[dict]:
    """Chunks waiting and running per namespace and (base) priority: the autoscaling signal.
    Waiting counts chunks in the broker that may run (not parked ones, not paused jobs')."""
    view = snapshot(stores)
    stores.scheduler.forget_except(list(view.rows))
    out: dict[tuple[str, str], dict] = {}
    now = time.time()
    for job in view.jobs.values():
        row = out.setdefault((job.namespace_id, job.priority), {
            "namespace_id": job.namespace_id, "priority": job.priority, "waiting": 0, "running": 0,
            "paused_jobs": 0, "oldest_wait_s": 0.0})
        row["waiting"] += job.waiting
        row["running"] += job.running
        row["paused_jobs"] += int(job.paused)
        if job.waiting and job.idle_since:
            row["oldest_wait_s"] = round(max(row["oldest_wait_s"], now - job.idle_since), 3)
    return sorted(out.values(), key=lambda r: (r["namespace_id"], fairness.LEVEL.get(r["priority"], 1)))


def usage(stores: Stores, namespace_id: str) -> dict:
    """What a namespace holds of the pool now, shown next to its limits."""
    rows = [r for r in backlog(stores) if r["namespace_id"] == namespace_id]
    return {"running_chunks": sum(r["running"] for r in rows), "waiting_chunks": sum(r["waiting"] for r in rows),
            "active_batches": stores.scheduler.batches_in(namespace_id, ACTIVE["batch"]),
            "pending_batches": stores.scheduler.batches_in(namespace_id, [BatchStatus.PENDING.value])}


def pick_lane(mine: int | None, others: list[int], n: int) -> int:
    """The lane for a namespace: the one it had unless another active namespace uses it
    too, else the lane fewest active namespaces use (lowest first). Pure."""
    if n <= 1:
        return 0
    if mine is not None and mine < n and mine not in others:
        return mine
    return min(range(n), key=lambda lane: (others.count(lane), lane))


def lane_for(stores: Stores, settings: Settings, namespace_id: str) -> str:
    """The queue a namespace's chunks are sent to now ("default" in fifo mode)."""
    names = lanes(settings.chunk_lanes if settings.scheduler == "fair" else 1)
    stores.scheduler.bump()       # a job is launching work: every process re-reads the pool
    if len(names) == 1:
        return names[0]
    active = {r["namespace_id"] for r in stores.scheduler.active(ACTIVE)}
    assigned = stores.scheduler.lanes()
    others = [lane for ns, lane in assigned.items() if ns in active and ns != namespace_id]
    lane = pick_lane(assigned.get(namespace_id), others, len(names))
    if assigned.get(namespace_id) != lane:
        stores.scheduler.set_lane(namespace_id, lane)
    return names[lane]
