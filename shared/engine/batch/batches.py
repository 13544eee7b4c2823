"""Batch lifecycle as plain functions over stores: create, launch a tier, finish a tier,
finish, cancel, retry. Celery tasks call these; none of them touch Celery."""
from __future__ import annotations

import logging
from typing import Callable

from shared.engine.batch import sources
from shared.engine.batch.batchretry import transient_plan
from shared.engine.events import emit
from shared.engine.batch.planning import plan_tiers
from shared.errors import Conflict
from shared.ids import new_id
from shared.settings import Settings
from shared.status import BatchStatus, finished_status, is_terminal
from shared.stores import Stores
from shared.timeutil import utcnow

B = BatchStatus
log = logging.getLogger("sluice.batches")

# A batch that ends frees its place under its namespace's max_active_batches. Processes that
# can launch work (the worker app) register a listener that starts the next queued batch at
# once; without one (the API, whose cancel route sends the start itself) the next trigger or
# the watchdog does.
EndListener = Callable[[Stores, dict], None]
_end_listeners: dict[str, EndListener] = {}


def add_end_listener(name: str, fn: EndListener) -> None:
    """Register `fn` under `name`; a process that builds its app again replaces it."""
    _end_listeners[name] = fn


def _ended(stores: Stores, batch: dict) -> None:
    for listener in list(_end_listeners.values()):
        try:
            listener(stores, batch)
        except Exception:  # noqa: BLE001 - the batch has ended; a later end or the watchdog starts the next
            log.warning("could not start the batch queued after %s", batch["_id"], exc_info=True)


def new_batch(ns_id: str, collection: dict, all_collections: list[dict], trigger: dict,
              counts: dict, deterministic: bool) -> dict:
    plan = plan_tiers(collection["_id"], all_collections)
    now = utcnow()
    return {"_id": new_id("batch"), "task_id": new_id("task"), "namespace_id": ns_id,
            "collection_id": collection["_id"], "status": B.PENDING.value,
            "total_tiers": len(plan), "current_tier": 0, "attempt": 1,
            "tiers": [{**t.to_dict(), "status": B.PENDING.value, "started_at": None,
                       "completed_at": None} for t in plan],
            "trigger": trigger, "deterministic_ids": deterministic, **counts,
            "created_at": now, "updated_at": now, "started_at": None, "completed_at": None,
            "heartbeat_at": now, "error": None, "cancel_requested": False, "redispatches": 0}


def start(stores: Stores, batch_id: str) -> dict | None:
    """PENDING → PROCESSING; None if it was not PENDING (canceled, or a redelivered start)."""
    return stores.batches.transition(batch_id, B.PROCESSING.value,
                                     {"started_at": utcnow(), "heartbeat_at": utcnow()})


def start_plan(batch: dict) -> tuple[int, dict[str, list[str]] | None]:
    plan = batch.get("start_plan") or {}
    return plan.get("tier_num", 0), plan.get("only_ids")


def launch_tier(stores: Stores, settings: Settings, batch_id: str, tier_num: int,
                only_ids: dict[str, list[str]] | None = None) -> list[str]:
    """Plan the chunks of a tier from what is in MongoDB now; return their ids (maybe none)."""
    batch = stores.batches.get(batch_id)
    tier = batch["tiers"][tier_num]
    rows, queries = [], {}
    for collection_id in tier["collection_ids"]:
        collection = stores.collections.by_id(collection_id)
        ids = None if only_ids is None else only_ids.get(collection_id, [])
        store, queries[collection_id] = sources.tier_base(stores, batch, collection, tier_num, ids is not None)
        ranges, total = store.boundaries(sources.narrow(queries[collection_id], ids), settings.chunk_size)
        # Every range but the last is full by construction.
        sizes = [settings.chunk_size] * (len(ranges) - 1) + [total - settings.chunk_size * (len(ranges) - 1)]
        for index, ((lo, hi), size) in enumerate(zip(ranges, sizes)):
            cid = stores.batches.chunk_id(batch_id, batch["attempt"], tier_num, collection_id, index)
            rows.append({"_id": cid, "batch_id": batch_id, "attempt": batch["attempt"], "tier_num": tier_num,
                         "collection_id": collection_id, "index": index, "lo": lo, "hi": hi, "size": size,
                         "only_ids": ids, "done": False, "created_at": utcnow()})
    # Recorded before the chunk rows exist, so no chunk (not even one the recovery sweep finds
    # early) computes the query again: filters compiled, bucket schemas read once per tier.
    stores.batches.set_fields(batch_id, stores.batches.launch_fields(
        tier_num, sources.launch_record(batch, queries, only_ids is not None)))
    stores.batches.add_chunks(rows)
    stores.batches.set_fields(batch_id, {f"tiers.{tier_num}.status": B.PROCESSING.value,
                                         f"tiers.{tier_num}.started_at": utcnow(),
                                         "current_tier": tier_num, "heartbeat_at": utcnow()})
    return [r["_id"] for r in rows]


def finish_tier(stores: Stores, batch_id: str, tier_num: int) -> str:
    """Close a tier once. Returns 'next' (launch tier_num + 1), 'done', 'wait' (chunks of
    the tier are still running: a redelivered header task can make a chord callback fire
    early, so chunk rows, not the chord's count, decide), or 'stop' (duplicate callback,
    or the batch was canceled/failed meanwhile)."""
    current = stores.batches.get(batch_id)
    if current["status"] != B.PROCESSING.value:
        return "stop"
    if stores.batches.pending_chunks(batch_id, current["attempt"], tier_num):
        return "wait"
    batch = stores.batches.set_fields(
        batch_id, {f"tiers.{tier_num}.status": B.COMPLETED.value, f"tiers.{tier_num}.completed_at": utcnow()},
        when={f"tiers.{tier_num}.status": B.PROCESSING.value, "status": B.PROCESSING.value})
    if batch is None:
        return "stop"
    tier = batch["tiers"][tier_num]
    if tier.get("started_at") and tier.get("completed_at"):
        stores.metrics.observe("sluice_tier_duration_seconds", {"kind": "batch"},
                               (tier["completed_at"] - tier["started_at"]).total_seconds())
    if tier_num + 1 < batch["total_tiers"]:
        return "next"
    stats = stores.batches.tier_stats(batch_id)
    failed = sum(t["counts"]["failed"] for t in stats.values())
    done = stores.batches.transition(batch_id, finished_status("batch", failed), {
        "completed_at": utcnow(), "final_stats": stores.batches.final_stats(batch.get("attempt", 1), stats)})
    if done is not None:
        emit(stores, done["namespace_id"], "batch.completed", _event_data(done, stats))
        _ended(stores, done)
    return "done"


def fail(stores: Stores, batch_id: str, message: str) -> dict | None:
    failed = stores.batches.transition(batch_id, B.FAILED.value, {"error": message, "completed_at": utcnow()})
    if failed is not None:
        emit(stores, failed["namespace_id"], "batch.failed",
             _event_data(failed, stores.batches.tier_stats(batch_id)))
        _ended(stores, failed)
    return failed


def _event_data(batch: dict, stats: dict[int, dict]) -> dict:
    totals: dict[str, int] = {}
    for t in stats.values():
        for k, v in t["counts"].items():
            totals[k] = totals.get(k, 0) + v
    return {"batch_id": batch["_id"], "task_id": batch["task_id"], "collection_id": batch["collection_id"],
            "status": batch["status"], "total_tiers": batch["total_tiers"], "counters": totals,
            "error": batch.get("error"), "completed_at": batch.get("completed_at")}


def cancel(stores: Stores, batch_id: str, namespace_id: str) -> dict:
    batch = stores.batches.get(batch_id, namespace_id)
    if is_terminal("batch", batch["status"]):
        raise Conflict(f"batch is already {batch['status']}", code="batch_finished")
    stores.batches.set_fields(batch_id, {"cancel_requested": True})
    done = stores.batches.transition(batch_id, B.CANCELED.value, {"completed_at": utcnow()})
    if done is not None:
        _ended(stores, done)
    return done or stores.batches.get(batch_id)


def prepare_retry(stores: Stores, batch_id: str, namespace_id: str, mode: str,
                  tier_nums: list[int] | None) -> tuple[int, dict[str, list[str]] | None]:
    """Reset a finished batch for a retry; returns (first tier to run, only_ids or None)."""
    batch = stores.batches.get(batch_id, namespace_id)
    if not is_terminal("batch", batch["status"]):
        raise Conflict("batch is still running; cancel it or wait for it to finish", code="batch_active")
    stats = stores.batches.tier_stats(batch_id)
    if mode == "transient_only":
        start_tier, only = transient_plan(stores, batch, tier_nums)
    elif mode == "failed_only":
        tiers = tier_nums if tier_nums is not None else sorted(t for t, s in stats.items()
                                                                if s["counts"]["failed"])
        if not tiers:
            raise Conflict("nothing to retry: no tier has failed records", code="nothing_to_retry")
        start_tier = min(tiers)
        only = {c: stores.batches.failed_source_ids(batch_id, start_tier, c)
                for c in batch["tiers"][start_tier]["collection_ids"]}
        stores.batches.supersede_failures(batch_id, [start_tier])
        stores.batches.clear_failures(batch_id, [start_tier])
    else:
        start_tier = min(tier_nums) if tier_nums else 0
        only = None
        stores.batches.drop_tiers(batch_id, list(range(start_tier, batch["total_tiers"])))
    reset = {f"tiers.{n}.status": B.PENDING.value for n in range(start_tier, batch["total_tiers"])}
    # The start plan lives in the batch, not in the message, so a lost start can be re-sent.
    stores.batches.set_fields(batch_id, {**reset, "attempt": batch["attempt"] + 1, "error": None,
                                         "cancel_requested": False, "completed_at": None,
                                         "current_tier": start_tier, "retry_mode": mode,
                                         "start_plan": {"tier_num": start_tier, "only_ids": only},
                                         "heartbeat_at": utcnow()})

    stores.batches.transition(batch_id, B.PENDING.value)
    return start_tier, only


MAX_REDISPATCHES = 3


def watchdog_action(batch: dict) -> tuple[str, int | None]:
    """What to do with a PROCESSING batch that made no progress for the stall timeout:
    ('fail', None) after too many tries; ('launch', n) when tier n was never launched
    (lost between one tier's callback and the next launch); otherwise ('redispatch', n):
    send tier n's unfinished chunks again (none left means its callback was lost, and
    re-dispatching an empty set fires the callback)."""
    if batch.get("redispatches", 0) >= MAX_REDISPATCHES:
        return "fail", None
    tier = batch.get("current_tier", 0)
    status = batch["tiers"][tier]["status"]
    if status == B.COMPLETED.value and tier + 1 < batch["total_tiers"]:
        return "launch", tier + 1
    if status == B.PENDING.value:
        return "launch", tier
    return "redispatch", tier
