from __future__ import annotations

from flask import Blueprint

from api.auth import namespace_id
from api.context import stores
from api.jsonio import load, page_response
from api.openapi import documented
from api.resources.buckets.schemas import BucketCreateSchema, BucketPatchSchema, BucketSchema
from api.resources.common import ListRequestSchema
from api.validate import load_all
from shared.dataschema import ensure_valid_schema
from shared.errors import Conflict, ValidationFailed
from shared.filters import compile_filter
from shared.stores.buckets import BucketStore

bp = Blueprint("buckets", __name__, url_prefix="/v1/buckets")


def render(doc: dict, with_count: bool = True) -> dict:
    out = stores().buckets.render(doc)
    if with_count:
        out["object_count"] = stores().objects.count([doc["_id"]])
    return out


@bp.post("")
@documented("Create a bucket", body=BucketCreateSchema, response=BucketSchema, status=201,
            errors={409: "name taken"})
def create():
    body = load(BucketCreateSchema())
    ensure_valid_schema(body["schema"])
    if body["unique_key"] and body["schema"]:
        declared = body["schema"].get("properties", {})
        missing = [{"path": f"unique_key.fields.{i}", "message": f"'{f}' is not declared in schema.properties"}
                   for i, f in enumerate(body["unique_key"]["fields"]) if f.split(".")[0] not in declared]
        if missing:
            raise ValidationFailed("unique_key names undeclared fields", details=missing)
    doc = stores().buckets.create(namespace_id(), body)
    return render(doc, with_count=False) | {"object_count": 0}, 201


@bp.get("/<bucket>")
@documented("Get a bucket by id or name", response=BucketSchema, errors={404: "no such bucket"})
def get(bucket: str):
    return render(stores().buckets.get(namespace_id(), bucket))


@bp.patch("/<bucket>")
@documented("Update a bucket's name, description, metadata or schema", body=BucketPatchSchema,
            response=BucketSchema, errors={404: "no such bucket", 409: "bucket name taken"})
def patch(bucket: str):
    body = load(BucketPatchSchema())
    if "unique_key" in body:
        raise ValidationFailed.at("unique_key", "is immutable after creation", code="immutable_field")
    if "schema" in body:
        ensure_valid_schema(body["schema"])
    doc = stores().buckets.get(namespace_id(), bucket)
    return render(stores().buckets.update(namespace_id(), doc["_id"], body))


@bp.delete("/<bucket>")
@documented("Delete a bucket and its objects", errors={404: "no such bucket",
                                                       409: "collections read from it"})
def delete(bucket: str):
    ns = namespace_id()
    doc = stores().buckets.get(ns, bucket)
    dependents = stores().bucket_dependents(ns, doc["_id"])
    if dependents:
        raise Conflict("collections use this bucket as their source; delete them first",
                       code="bucket_in_use",
                       details=[{"path": "collections", "message": c} for c in dependents])
    removed = stores().objects.delete_bucket(doc["_id"])
    stores().buckets.delete(ns, doc["_id"])
    return {"deleted": True, "bucket_id": doc["_id"], "objects_deleted": removed}


@bp.post("/list")
@documented("List buckets with filters and pagination", body=ListRequestSchema)
def list_():
    body, query = load_all(ListRequestSchema(), allow_empty=True, paging=True, check=lambda b: compile_filter(
        b.get("filters"), path="filters", resolve=BucketStore.resolve_field))
    page = stores().buckets.list(namespace_id(), query, limit=body["limit"], cursor=body["cursor"])
    return page_response(page)
