from __future__ import annotations

from flask import Blueprint, request

from api.auth import namespace_id
from api.context import settings, stores
from api.jsonio import check_storable, flatten_errors, load, normalise_messages, page_response
from api.openapi import documented
from api.validate import load_all
from api.resources.objects.schemas import (ObjectBatchSchema, ObjectListSchema, ObjectPatchSchema,
                                           ObjectSchema, ObjectWriteSchema)
from shared.dataschema import coerce_data, datetime_fields
from shared.errors import ValidationFailed
from shared.filters import compile_filter
from shared.storable import storable
from shared.stores.objects import POLICIES, resolve_object_field, unique_hash

bp = Blueprint("objects", __name__, url_prefix="/v1/buckets/<bucket>/objects")


def _bucket(ref: str) -> dict:
    return stores().buckets.get(namespace_id(), ref)


def _policy(bucket: dict, explicit: str | None = None) -> str:
    policy = request.args.get("policy") or explicit
    if policy is None:
        return (bucket.get("unique_key") or {}).get("default_policy", "upsert")
    if policy not in POLICIES:
        raise ValidationFailed.at("policy", f"must be one of: {', '.join(POLICIES)}")
    return policy


def _prepare(bucket: dict, item: dict, path: str = "") -> tuple[dict, str | None]:
    """Check an item against the bucket schema and unique key; return (stored form, key hash)."""
    prefix = f"{path}." if path else ""
    # The field-name rule holds for user data at every depth (see shared/storable.py).
    for part in ("data", "metadata"):
        check_storable(storable(item.get(part) or {}, f"{prefix}{part}"))
    data, errors = coerce_data(bucket.get("schema"), item["data"], f"{prefix}data")
    if errors:
        raise ValidationFailed(f"object does not match the bucket schema: {len(errors)} problem(s)",
                               details=errors)
    return {**item, "data": data}, unique_hash(bucket.get("unique_key"), data, f"{prefix}data")


def _render(doc: dict, outcome: str | None = None) -> dict:
    out = stores().objects.render(doc)
    return out | {"outcome": outcome} if outcome else out


@bp.post("")
@documented("Create or write an object (unique_key policy via ?policy=insert|update|upsert)",
            body=ObjectWriteSchema, response=ObjectSchema, status=201,
            query={"policy": "insert | update | upsert (default: the bucket's)"},
            errors={404: "no such bucket / update of a missing key", 409: "insert of an existing key"})
def create(bucket: str):
    b = _bucket(bucket)
    item, uhash = _prepare(b, load(ObjectWriteSchema()))
    doc, outcome = stores().objects.write(b, item, _policy(b), uhash)
    return _render(doc, outcome), 201 if outcome == "created" else 200


@bp.post("/batch")
@documented("Write up to SLUICE_MAX_BATCH_OBJECTS objects; all are validated before any is written",
            body=ObjectBatchSchema)
def batch(bucket: str):
    b = _bucket(bucket)
    body = load(ObjectBatchSchema())
    limit = settings().max_batch_objects
    if len(body["objects"]) > limit:
        raise ValidationFailed.at("objects", f"at most {limit} objects per batch")
    items, hashes, errors = [], [], []
    item_schema = ObjectWriteSchema()
    for i, raw in enumerate(body["objects"]):
        errs = item_schema.validate(raw)
        if errs:
            errors.extend(normalise_messages(flatten_errors(errs, f"objects.{i}")))
            continue
        try:
            item, uhash = _prepare(b, item_schema.load(raw), f"objects.{i}")
        except ValidationFailed as exc:
            errors.extend(exc.details)
            continue
        items.append(item)
        hashes.append(uhash)
    if errors:
        raise ValidationFailed(f"invalid batch: {len(errors)} problem(s); nothing was written",
                               details=errors)
    results = stores().objects.write_many(b, items, _policy(b, body["policy"]), hashes)
    summary: dict[str, int] = {}
    for r in results:
        summary[r["outcome"]] = summary.get(r["outcome"], 0) + 1
    return {"results": results, "summary": summary}


@bp.post("/list")
@documented("List objects with filters, sort and pagination", body=ObjectListSchema)
def list_(bucket: str):
    b = _bucket(bucket)
    dt_fields = datetime_fields(b.get("schema")) | {"created_at", "updated_at"}
    body, query = load_all(ObjectListSchema(), allow_empty=True, paging=True, check=lambda b: compile_filter(
        b.get("filters"), path="filters", resolve=resolve_object_field, datetime_fields=dt_fields))
    sort_field = resolve_object_field(body["sort"]["field"])
    page = stores().objects.list(b, query, sort_field=sort_field,
                                 descending=body["sort"]["direction"] == "desc",
                                 limit=body["limit"], cursor=body["cursor"])
    return page_response(page)


@bp.get("/<object_id>")
@documented("Get an object", response=ObjectSchema, errors={404: "no such bucket or object"})
def get(bucket: str, object_id: str):
    return _render(stores().objects.get(_bucket(bucket)["_id"], object_id))


@bp.put("/<object_id>")
@documented("Replace an object's data, metadata and key_prefix", body=ObjectWriteSchema,
            response=ObjectSchema, errors={404: "no such object", 409: "unique key taken"})
def put(bucket: str, object_id: str):
    b = _bucket(bucket)
    stores().objects.get(b["_id"], object_id)
    item, uhash = _prepare(b, load(ObjectWriteSchema()))
    return _render(stores().objects.replace(b["_id"], object_id, item, uhash))


@bp.patch("/<object_id>")
@documented("Merge fields into an object's data and metadata", body=ObjectPatchSchema,
            response=ObjectSchema, errors={404: "no such object", 409: "unique key taken"})
def patch(bucket: str, object_id: str):
    b = _bucket(bucket)
    current = stores().objects.get(b["_id"], object_id)
    body = load(ObjectPatchSchema())
    merged = {"key_prefix": body.get("key_prefix", current.get("key_prefix")),
              "metadata": {**current.get("metadata", {}), **body.get("metadata", {})},
              "data": {**current.get("data", {}), **body.get("data", {})}}
    item, uhash = _prepare(b, merged)
    return _render(stores().objects.replace(b["_id"], object_id, item, uhash))


@bp.delete("/<object_id>")
@documented("Delete an object", errors={404: "no such object"})
def delete(bucket: str, object_id: str):
    stores().objects.delete(_bucket(bucket)["_id"], object_id)
    return {"deleted": True, "object_id": object_id}
