"""Sluice's own buckets and collections as pipeline sources and destinations (via stores)."""
from __future__ import annotations

import hashlib
from typing import Any, Callable

from shared.connectors.base import Destination, Source, jsonable
from shared.errors import ValidationFailed
from shared.stores import Stores
from shared.stores.documents import resolve_document_field
from shared.stores.objects import resolve_object_field
from shared.timeutil import utcnow


def pipeline_document_id(pipeline_id: str, key: str) -> str:
    """Deterministic document id of a pipeline's record: a redelivered chunk upserts it."""
    return "doc_" + hashlib.sha256(f"{pipeline_id}|{key}".encode()).hexdigest()[:24]


class _StoreSource(Source):
    """Reads one store (objects or documents) in `_id` ranges."""

    def __init__(self, store: Any):
        self.store = store

    def boundaries(self, query: dict, size: int) -> tuple[list[tuple[Any, Any | None]], int]:
        return self.store.boundaries(query, size)

    def fetch_range(self, query: dict, lo: Any, hi: Any | None) -> list[dict]:
        return self.store.fetch_range(query, lo, hi)


class BucketSource(_StoreSource):
    kind = "bucket"

    def __init__(self, stores: Stores, connection: dict, source_spec: dict):
        super().__init__(stores.objects)
        bucket_id = (connection.get("config") or {}).get("bucket_id")
        bucket = stores.buckets.find(connection["namespace_id"], bucket_id) if bucket_id else None
        if bucket is None:
            raise ValidationFailed.at("source.connection_id",
                                      f"the connection's bucket '{bucket_id}' no longer exists",
                                      code="connection_target_missing")
        self.bucket_id = bucket["_id"]

    def base_query(self) -> dict:
        return {"bucket_id": self.bucket_id}

    def field_resolver(self) -> Callable[[str], str]:
        return resolve_object_field

    def record(self, row: dict) -> dict:
        return jsonable({"object_id": row["_id"], "key_prefix": row.get("key_prefix"),
                         "metadata": row.get("metadata") or {}, **(row.get("data") or {}),
                         "created_at": row.get("created_at"), "updated_at": row.get("updated_at")})


def _resolve_collection(stores: Stores, namespace_id: str, ref: str | None, path: str) -> str:
    doc = stores.collections.find(namespace_id, ref) if ref else None
    if doc is None:
        message = (f"collection '{ref}' does not exist in this namespace" if ref
                   else "names no collection: set it here or in the connection's config.collection_id")
        raise ValidationFailed.at(path, message, code="connection_target_missing")
    return doc["_id"]


class CollectionSource(_StoreSource):
    kind = "collection"

    def __init__(self, stores: Stores, connection: dict, source_spec: dict):
        super().__init__(stores.documents)
        ref = (connection.get("config") or {}).get("collection_id") or source_spec.get("collection")
        self.collection_id = _resolve_collection(stores, connection["namespace_id"], ref,
                                                 "source.collection")

    def base_query(self) -> dict:
        return {"collection_id": self.collection_id}

    def field_resolver(self) -> Callable[[str], str]:
        return resolve_document_field

    def record(self, row: dict) -> dict:
        return jsonable({"document_id": row["_id"], "collection_id": row.get("collection_id"),
                         "root_object_id": row.get("root_object_id"),
                         "taxonomy": row.get("taxonomy") or {}, **(row.get("data") or {}),
                         "created_at": row.get("created_at"), "updated_at": row.get("updated_at")})


class CollectionDestination(Destination):
    """Upserts documents `doc_<sha256(pipeline_id|key)[:24]>` into a Sluice collection."""
    kind = "collection"

    def __init__(self, stores: Stores, connection: dict, dest_spec: dict):
        self.documents = stores.documents
        self.namespace_id = connection["namespace_id"]
        ref = dest_spec.get("collection") or (connection.get("config") or {}).get("collection_id")
        self.collection_id = _resolve_collection(stores, self.namespace_id, ref, "destination.collection")

    def write(self, items: list[tuple[str, dict]], context: dict) -> dict[str, str]:
        if not items:
            return {}
        pipeline_id = context["pipeline_id"]
        latest: dict[str, dict] = {}
        for key, record in items:  # a key repeated within one call: the last record wins
            latest[key] = record
        docs = [{"_id": pipeline_document_id(pipeline_id, key), "collection_id": self.collection_id,
                 "namespace_id": self.namespace_id, "data": record, "source_type": "pipeline",
                 "source_id": key, "pipeline_id": pipeline_id, "batch_id": None}

                for key, record in latest.items()]
        failed = self.documents.upsert_keyed(docs, utcnow())
        return {docs[i]["source_id"]: message for i, message in failed.items()}


def probe_bucket(stores: Stores, connection: dict) -> str | None:
    """None when the bucket exists, else why not."""
    ref = (connection.get("config") or {}).get("bucket_id")
    if not ref or stores.buckets.find(connection["namespace_id"], ref) is None:
        return f"bucket '{ref}' does not exist"
    return None


def probe_collection(stores: Stores, connection: dict) -> str | None:
    ref = (connection.get("config") or {}).get("collection_id")
    if ref is None:  # the pipeline's destination.collection names the target
        stores.mongo.ping()
        return None
    if stores.collections.find(connection["namespace_id"], ref) is None:
        return f"collection '{ref}' does not exist"
    return None
