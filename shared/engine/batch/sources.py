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
    trigger = batch.get("trigger") or {}
    store, query = _tier_query(stores, batch, trigger, collection, tier_num, only_ids)
    until = trigger.get("until_id") if tier_num == 0 else None
    if until is not None:
        # What the trigger selected and counted; later records are for the next trigger.
        # (Batches stored before the bound existed have none and read everything.)
        query = {"$and": [query, {"_id": {"$lte": until}}]}
    return store, query


def _tier_query(stores: Any, batch: dict, trigger: dict, collection: dict, tier_num: int,
                only_ids: list[str] | None) -> tuple[Any, dict]:
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
        return stores.objects, stores.objects.scope_query(
            bucket_ids, src.get("prefix_key"), object_ids, mongo_filter, only_ids)
    col_ids = collection_ids_for(collection, trigger, tier_num, plan_ids)
    mongo_filter = None
    if tier_num == 0 and trigger.get("source_filters"):
        mongo_filter = compile_filter(trigger["source_filters"], path="source_filters",
                                      resolve=resolve_document_field,
                                      datetime_fields=frozenset({"created_at", "updated_at"}))
    if tier_num == 0:
        return stores.documents, stores.documents.scope_query(col_ids, None, mongo_filter, only_ids)
    # A failed-only retry names its records; a resubmission's first tier reads whatever the
    # tier above stored (any attempt); otherwise read what this attempt wrote above.
    plan = batch.get("start_plan") or {}
    resubmitted = plan.get("any_attempt") and plan.get("tier_num") == tier_num
    attempt = None if only_ids is not None or resubmitted else batch.get("attempt", 1)
    return stores.documents, stores.documents.scope_query(col_ids, batch["_id"], None, only_ids, attempt)


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
