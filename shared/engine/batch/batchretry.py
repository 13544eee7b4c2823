"""Retry by cause: a chunk a worker gave up on becomes infrastructure failures (so nothing is
silently lost and the batch can still finish), and a `transient_only` retry re-runs just
those records."""
from __future__ import annotations

from shared.causes import INFRASTRUCTURE
from shared.engine.batch import sources
from shared.errors import Conflict
from shared.stores import Stores
from shared.timeutil import utcnow

MAX_MESSAGE = 2000


def give_up_chunk(stores: Stores, chunk_id: str, code: str, message: str) -> bool:
    """Record every record of the chunk's own range that has no failure of its own as an
    infrastructure failure with `code`, and complete the chunk; False when the chunk was done
    already. Raises what the store raises (the caller then fails the whole batch)."""
    chunk = stores.batches.chunk(chunk_id)
    if chunk is None or chunk.get("done"):
        return False
    batch = stores.batches.get(chunk["batch_id"])
    collection = stores.collections.by_id(chunk["collection_id"])
    store, query = sources.chunk_input(stores, batch, collection, chunk)
    rows = store.fetch_range(query, chunk["lo"], stores.batches.ledger.current_hi(chunk),
                             {"_id": 1, "root_object_id": 1})
    failure = {"code": code, "cause": INFRASTRUCTURE, "message": message[:MAX_MESSAGE], "line": None,
               "at": utcnow()}
    return stores.batches.give_up_chunk(chunk, rows, failure)


def transient_plan(stores: Stores, batch: dict, tier_nums: list[int] | None) -> tuple[int, dict[str, list[str]]]:
    """(first tier, only_ids) of a `transient_only` retry: the records of the lowest tier with
    infrastructure failures (among `tier_nums`, if given); their failures stop counting."""
    by_tier = stores.batches.failure_causes(batch["_id"])
    tiers = [t for t, c in sorted(by_tier.items()) if c.get(INFRASTRUCTURE)
             and (tier_nums is None or t in tier_nums)]
    if not tiers:
        raise Conflict("nothing to retry: no record failed for an infrastructure reason "
                       "(retry_mode failed_only re-runs the others)", code="nothing_to_retry")
    start = tiers[0]
    rows = stores.batches.failures_of(batch["_id"], tier_num=start, cause=INFRASTRUCTURE)
    only = {c: [r["source_id"] for r in rows if r["collection_id"] == c]
            for c in batch["tiers"][start]["collection_ids"]}
    stores.batches.supersede_failure_rows(rows)
    return start, only
