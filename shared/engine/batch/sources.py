"""What a tier reads: the source query of one collection within one batch."""
from __future__ import annotations

from typing import Any

from shared.dataschema import datetime_fields
from shared.filters import compile_filter
from shared.stores import Stores
from shared.stores.documents import resolve_document_field
from shared.stores.objects import resolve_object_field


def bucket_ids_for(collection: dict, trigger: dict, tier_num: int) -> list[str]:
    ids = list(collection["source"].get("bucket_ids") or [])
    include = trigger.get("include_bucket_ids")
    if tier_num == 0 and include:
        ids = [b for b in ids if b in include]
    return ids


def collection_ids_for(collection: dict, trigger: dict, tier_num: int, plan_ids: set[str]) -> list[str]:
    ids = list(collection["source"].get("collection_ids") or [])
    if tier_num == 0:
        include = trigger.get("include_collection_ids")
        return [c for c in ids if c in include] if include else ids
    return [c for c in ids if c in plan_ids]


def tier_input(stores: Stores, batch: dict, collection: dict, tier_num: int,
               only_ids: list[str] | None = None) -> tuple[Any, dict]:
    """(store, query) of the records collection `collection` reads at `tier_num` of `batch`.
    Trigger-level narrowing (object_ids, source_filters, include_*) applies to tier 0 only;
    later tiers read what the tier above wrote in this batch."""
    store, base = tier_base(stores, batch, collection, tier_num, only_ids is not None)
    return store, narrow(base, only_ids)


def tier_base(stores: Stores, batch: dict, collection: dict, tier_num: int,
              narrowed: bool) -> tuple[Any, dict]:
    """`tier_input` before its `only_ids`: what the launch computes once and records for the
    tier's chunks. `narrowed` says whether the launch names records (a retry of failed ones),
    which changes which attempt's documents a later tier reads."""
    trigger = batch.get("trigger") or {}
    query = _tier_query(stores, batch, trigger, collection, tier_num, narrowed)
    return source_store(stores, collection), up_to(query, trigger.get("until_id") if tier_num == 0 else None)


def up_to(query: dict, until: Any) -> dict:
    """`query` bounded by the highest id the trigger selected and counted; later records are
    for the next trigger. (Batches stored before the bound existed have none and read
    everything.)"""
    return query if until is None else {"$and": [query, {"_id": {"$lte": until}}]}


def narrow(query: dict, only_ids: list[str] | None) -> dict:
    return query if only_ids is None else {"$and": [query, {"_id": {"$in": only_ids}}]}


def source_store(stores: Stores, collection: dict) -> Any:
    return stores.objects if collection["source"]["type"] == "bucket" else stores.documents


def launch_record(batch: dict, queries: dict[str, dict], narrowed: bool) -> dict:
    """What a launch records of its tier: the base query per collection and the batch state
    they were computed for."""
    return {"attempt": batch.get("attempt", 1), "narrowed": narrowed, "queries": queries}


def recorded_base(record: dict | None, chunk: dict) -> dict | None:
    """The base query recorded for `chunk`'s collection, or None when there is none that fits:
    a batch launched before launches recorded queries, or a record made by another attempt's
    launch (or with other narrowing) than the one that made this chunk."""
    if not record or record.get("attempt") != chunk.get("attempt", 1):
        return None
    if record.get("narrowed") != (chunk.get("only_ids") is not None):
        return None
    return (record.get("queries") or {}).get(chunk["collection_id"])


def chunk_input(stores: Stores, batch: dict, collection: dict, chunk: dict) -> tuple[Any, dict]:
    """(store, query) of one chunk: its tier's base query as the launch recorded it, narrowed
    to the chunk's `only_ids` (its id range is applied by the read). Without a fitting record
    the query is computed as the launch would have."""
    base = recorded_base(stores.batches.launched_queries(batch, chunk["tier_num"]), chunk)
    if base is None:
        return tier_input(stores, batch, collection, chunk["tier_num"], chunk.get("only_ids"))
    return source_store(stores, collection), narrow(base, chunk.get("only_ids"))


def _tier_query(stores: Any, batch: dict, trigger: dict, collection: dict, tier_num: int,
                narrowed: bool) -> dict:
    src = collection["source"]
    plan_ids = {c for t in batch["tiers"] for c in t["collection_ids"]}
    if src["type"] == "bucket":
        bucket_ids = bucket_ids_for(collection, trigger, tier_num)
        mongo_filter = None
        if tier_num == 0 and trigger.get("source_filters"):
            dt = set().union(*(datetime_fields(b.get("schema")) for b in
                               stores.buckets.by_ids(bucket_ids, {"schema": 1})))
            mongo_filter = compile_filter(trigger["source_filters"], path="source_filters",
                                          resolve=resolve_object_field,
                                          datetime_fields=frozenset(dt) | {"created_at", "updated_at"})
        object_ids = trigger.get("object_ids") if tier_num == 0 else None
        return stores.objects.scope_query(bucket_ids, src.get("prefix_key"), object_ids, mongo_filter)
    col_ids = collection_ids_for(collection, trigger, tier_num, plan_ids)
    mongo_filter = None
    if tier_num == 0 and trigger.get("source_filters"):
        mongo_filter = compile_filter(trigger["source_filters"], path="source_filters",
                                      resolve=resolve_document_field,
                                      datetime_fields=frozenset({"created_at", "updated_at"}))
    if tier_num == 0:
        return stores.documents.scope_query(col_ids, None, mongo_filter)
    # A failed-only retry names its records; a resubmission's first tier reads whatever the
    # tier above stored (any attempt); otherwise read what this attempt wrote above.
    plan = batch.get("start_plan") or {}
    resubmitted = plan.get("any_attempt") and plan.get("tier_num") == tier_num
    attempt = None if narrowed or resubmitted else batch.get("attempt", 1)
    return stores.documents.scope_query(col_ids, batch["_id"], None, None, attempt)


def record_meta(row: dict, source_type: str) -> dict:
    """The system fields of a source row that input_mapping paths and collection filters see
    next to its user data (which documents inherit)."""
    if source_type == "bucket":
        return {"object_id": row["_id"], "key_prefix": row.get("key_prefix"),
                "metadata": row.get("metadata") or {}, "status": row.get("status"),
                "bucket_id": row.get("bucket_id")}
    return {"document_id": row["_id"], "collection_id": row.get("collection_id"),
            "root_object_id": row.get("root_object_id"), "taxonomy": row.get("taxonomy") or {}}


def record_view(row: dict, source_type: str) -> dict:
    """What a collection filter sees: system fields and user data at the top level."""
    return {**record_meta(row, source_type), **(row.get("data") or {})}
