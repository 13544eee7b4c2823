"""The trigger use-case: validate, count, create the batch row, honour an Idempotency-Key,
enqueue the start (with the sender passed in) and fail the batch if it cannot be enqueued."""
from __future__ import annotations

from typing import Any, Callable

from shared.engine.batch import batches, sources
from shared.engine.admission import resolve_priority
from shared.errors import Unprocessable, ValidationFailed
from shared.filters import parse_filter
from shared.stores import Stores
from shared.tasknames import START_BATCH

# enqueue_start(task_name, job_id) -> False when the broker was unreachable and the start was
# deferred (the job stays PENDING; the workers' recovery sweep sends it once the broker is
# back): the API's TaskSender.enqueue_start.
EnqueueStart = Callable[[str, str], bool]


def trigger(stores: Stores, enqueue_start: EnqueueStart, ns_id: str, collection: dict, body: dict,
            idempotency_key: str | None = None) -> tuple[dict, bool]:
    """Create and enqueue a batch; (batch, reused). With an Idempotency-Key seen before for
    this collection, the earlier batch is returned and nothing is enqueued. A broker that is
    unreachable does not lose the batch: it is accepted and started later."""
    batch = create_trigger_batch(stores, ns_id, collection, body)
    if idempotency_key:
        earlier = stores.idempotency.claim(ns_id, f"trigger:{collection['_id']}", idempotency_key, batch["_id"])
        if earlier is not None:
            stores.batches.discard(batch["_id"])
            return stores.batches.get(earlier), True
    try:
        enqueue_start(START_BATCH, batch["_id"])
    except Exception as exc:
        # Not an outage (those are deferred): the row exists and says why, the caller sees the error.
        batches.fail(stores, batch["_id"], f"could not enqueue the batch: {exc}")
        raise
    return batch, False


def _resolve(refs: list[str] | None, find: Any, allowed: list[str], path: str, kind: str,
             errs: list[dict]) -> list[str] | None:
    if refs is None:
        return None
    ids = []
    for i, ref in enumerate(refs):
        found = find(ref)
        if found is None:
            errs.append({"path": f"{path}.{i}", "message": f"no {kind} '{ref}' in this namespace"})
        elif found["_id"] not in allowed:
            errs.append({"path": f"{path}.{i}", "message": f"{kind} '{ref}' is not a source of this collection"})
        else:
            ids.append(found["_id"])
    return ids


def create_trigger_batch(stores: Stores, ns_id: str, collection: dict, body: dict) -> dict:
    if not collection.get("enabled", True):
        raise Unprocessable("collection is disabled", code="collection_disabled")
    errs: list[dict] = []
    src = collection["source"]
    trigger = {
        "include_bucket_ids": _resolve(body.get("include_buckets"), lambda r: stores.buckets.find(ns_id, r),
                                       src.get("bucket_ids") or [], "include_buckets", "bucket", errs),
        "include_collection_ids": _resolve(body.get("include_collections"),
                                           lambda r: stores.collections.find(ns_id, r),
                                           src.get("collection_ids") or [], "include_collections",
                                           "collection", errs),
        "object_ids": body.get("object_ids"),
        "source_filters": body.get("source_filters"),
    }
    if body.get("source_filters"):
        try:
            parse_filter(body["source_filters"], "source_filters")
        except ValidationFailed as exc:
            errs.extend(exc.details)
    if errs:
        raise ValidationFailed(f"invalid trigger: {len(errs)} problem(s)", details=errs)
    all_cols = stores.collections.all_in_namespace(ns_id)
    probe = {"_id": None, "trigger": trigger, "tiers": [{"collection_ids": [collection["_id"]]}]}
    store, query = sources.tier_input(stores, probe, collection, 0)
    # The batch reads up to the highest id selected now, and the count is taken under the
    # same bound, so objects written meanwhile can change neither (ids are time-ordered;
    # "" selects nothing, for an empty source).
    trigger["until_id"] = store.last_id(query) or ""
    count = store.count_matching(sources.up_to(query, trigger["until_id"]))
    if src["type"] == "bucket":
        bucket_ids = sources.bucket_ids_for(collection, trigger, 0)
        deterministic = all(b.get("unique_key") for b in stores.buckets.by_ids(bucket_ids, {"unique_key": 1}))
        counts = {"source_bucket_ids": bucket_ids, "source_collection_ids": None,
                  "object_count": count, "document_count": None}
    else:
        counts = {"source_bucket_ids": None,
                  "source_collection_ids": sources.collection_ids_for(collection, trigger, 0, set()),
                  "object_count": None, "document_count": count}
        deterministic = True
    batch = batches.new_batch(ns_id, collection, all_cols, trigger, counts, deterministic)
    batch["priority"] = resolve_priority(stores, ns_id, body.get("priority"))
    return stores.batches.create(batch)


def trigger_response(batch: dict, reused: bool = False) -> dict:
    what = (f"{batch['object_count']} objects" if batch.get("object_count") is not None
            else f"{batch.get('document_count') or 0} documents")
    message = ("Idempotency-Key seen before: returning the existing batch" if reused else
               f"Batch created: {what} through {batch['total_tiers']} tier(s). "
               f"Poll GET /v1/batches/{batch['_id']}")
    return {"batch_id": batch["_id"], "task_id": batch["task_id"], "collection_id": batch["collection_id"],
            "total_tiers": batch["total_tiers"], "message": message,
            "source_bucket_ids": batch.get("source_bucket_ids"),
            "source_collection_ids": batch.get("source_collection_ids"),
            "object_count": batch.get("object_count"), "document_count": batch.get("document_count")}
