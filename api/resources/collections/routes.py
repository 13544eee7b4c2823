from __future__ import annotations

from flask import Blueprint, request

from api.auth import namespace_id
from api.context import settings, stores, tasks
from api.jsonio import load, page_response
from api.openapi import documented
from api.resources.collections.schemas import (CollectionCreateSchema, CollectionPatchSchema,
                                               CollectionSchema, TriggerResponseSchema, TriggerSchema)
from api.resources.common import ListRequestSchema
from api.validate import load_all
from shared.engine.batch.collections import build_collection, source_lineage
from shared.engine.batch.trigger import trigger as trigger_batch
from shared.engine.batch.trigger import trigger_response
from shared.errors import Conflict
from shared.filters import compile_filter
from shared.stores.collections import CollectionStore
from shared.stores.documents import resolve_document_field

bp = Blueprint("collections", __name__, url_prefix="/v1/collections")


def render(doc: dict) -> dict:
    out = stores().collections.render(doc)
    out["source_lineage"] = source_lineage(stores(), doc)
    out["document_count"] = stores().documents.count([doc["_id"]])
    return out


def _create():
    body, _ = load_all(CollectionCreateSchema(), filters_at=("source.filters",))
    doc = build_collection(stores(), settings(), namespace_id(), body)
    return render(stores().collections.create(doc)), 201


@bp.post("")
@documented("Create a collection", body=CollectionCreateSchema, response=CollectionSchema, status=201,
            errors={409: "name taken"})
def create():
    return _create()


@bp.post("/create")
@documented("Create a collection (the seed's path)", body=CollectionCreateSchema,
            response=CollectionSchema, status=201, errors={409: "name taken"})
def create_seed_path():
    return _create()


@bp.post("/list")
@documented("List collections", body=ListRequestSchema)
def list_():
    body, query = load_all(ListRequestSchema(), allow_empty=True, paging=True, check=lambda b: compile_filter(
        b.get("filters"), path="filters", resolve=CollectionStore.resolve_field))
    page = stores().collections.list(namespace_id(), query, limit=body["limit"], cursor=body["cursor"])
    page.items[:] = [render(stores().collections.by_id(c["collection_id"])) for c in page.items]
    return page_response(page)


@bp.get("/<collection>")
@documented("Get a collection by id or name", response=CollectionSchema, errors={404: "no such collection"})
def get(collection: str):
    return render(stores().collections.get(namespace_id(), collection))


@bp.patch("/<collection>")
@documented("Update description, metadata or enabled", body=CollectionPatchSchema,
            response=CollectionSchema)
def patch(collection: str):
    body = load(CollectionPatchSchema())
    doc = stores().collections.get(namespace_id(), collection)
    return render(stores().collections.update(namespace_id(), doc["_id"], body))


@bp.delete("/<collection>")
@documented("Delete a collection and its documents", errors={409: "downstream collections depend on it"})
def delete(collection: str):
    ns = namespace_id()
    doc = stores().collections.get(ns, collection)
    dependents = stores().collections.names_downstream_of(ns, doc["_id"])
    if dependents:
        raise Conflict("downstream collections read from this collection; delete them first",
                       code="collection_in_use",
                       details=[{"path": "collections", "message": n} for n in dependents])
    removed = stores().documents.delete_collection(doc["_id"])
    stores().collections.delete(ns, doc["_id"])
    return {"deleted": True, "collection_id": doc["_id"], "documents_deleted": removed}


@bp.post("/<collection>/trigger")
@documented("Trigger processing: returns a batch at once; poll GET /v1/batches/{batch_id}",
            body=TriggerSchema, response=TriggerResponseSchema,
            errors={404: "no such collection", 422: "collection is disabled"})
def trigger(collection: str):
    ns = namespace_id()
    col = stores().collections.get(ns, collection)
    body, _ = load_all(TriggerSchema(), allow_empty=True, filters_at=("source_filters",))
    batch, reused = trigger_batch(stores(), tasks().enqueue_start, ns, col, body, request.headers.get("Idempotency-Key"))
    return trigger_response(batch, reused=reused)


@bp.post("/<collection>/documents/list")
@documented("List a collection's documents with filters and pagination", body=ListRequestSchema)
def list_documents(collection: str):
    col = stores().collections.get(namespace_id(), collection)
    body, query = load_all(ListRequestSchema(), allow_empty=True, paging=True, check=lambda b: compile_filter(
        b.get("filters"), path="filters", resolve=resolve_document_field,
        datetime_fields=frozenset({"created_at", "updated_at"})))
    page = stores().documents.list(col["_id"], query, limit=body["limit"], cursor=body["cursor"])
    return page_response(page)


@bp.get("/<collection>/documents/<document_id>")
@documented("Get one document with its lineage", errors={404: "no such document"})
def get_document(collection: str, document_id: str):
    col = stores().collections.get(namespace_id(), collection)
    return stores().documents.render(stores().documents.get(col["_id"], document_id))
