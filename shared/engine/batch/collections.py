"""Creating a collection: resolve sources, check extractors, parameters and mappings,
compute output_schema and source_lineage. Every problem is reported with its path."""
from __future__ import annotations

from typing import Any

from shared.engine.batch.planning import lineage_chain, would_cycle
from shared.errors import ValidationFailed
from shared.extractors import get_extractor, validate_input_mapping
from shared.filters import parse_filter
from shared.ids import new_id
from shared.settings import Settings
from shared.stores import Stores
from shared.timeutil import utcnow

OBJECT_VIEW_FIELDS = {"object_id": "string", "key_prefix": "string", "metadata": "object",
                      "status": "string", "bucket_id": "string"}
DOCUMENT_VIEW_FIELDS = {"document_id": "string", "collection_id": "string", "root_object_id": "string",
                        "taxonomy": "object"}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _resolve_refs(store: Any, ns_id: str, source: dict, kind: str, errs: list[dict]) -> list[str]:
    """The ids of the buckets or collections a source names (`<kind>_id`: one or several, and/or
    `<kind>_ids`), each problem reported at its path."""
    one, many = f"{kind}_id", f"{kind}_ids"
    refs = _as_list(source.get(one)) + _as_list(source.get(many))
    key = one if source.get(one) is not None else many
    if not refs:
        errs.append({"path": f"source.{one}", "message": f"is required for a {kind} source"})
    ids = []
    for i, ref in enumerate(refs):
        found = store.find(ns_id, ref)
        if found is None:
            path = f"source.{one}" if isinstance(source.get(key), str) else f"source.{key}.{i}"
            errs.append({"path": path, "message": f"no {kind} '{ref}' in this namespace"})
        else:
            ids.append(found["_id"])
    return list(dict.fromkeys(ids))


def resolve_source(stores: Stores, ns_id: str, source: dict, errs: list[dict]) -> dict:
    """Normalise the seed's source (bucket_id may be one id or several) to stored form."""
    out = {"type": source["type"], "prefix_key": source.get("prefix_key"), "filters": source.get("filters")}
    if source.get("filters"):
        try:
            parse_filter(source["filters"], "source.filters")
        except ValidationFailed as exc:
            errs.extend(exc.details)
    kind = "bucket" if source["type"] == "bucket" else "collection"
    store = stores.buckets if kind == "bucket" else stores.collections
    out[f"{kind}_ids"] = _resolve_refs(store, ns_id, source, kind, errs)
    return out


def source_fields(stores: Stores, source: dict) -> dict[str, str] | None:
    """Fields (name -> type) the source provides; None when unknown (schemaless bucket)."""
    fields: dict[str, str] = {}
    if source["type"] == "bucket":
        for b in stores.buckets.by_ids(source["bucket_ids"], {"schema": 1}):
            if not b.get("schema"):
                return None
            fields |= {n: p["type"] for n, p in b["schema"].get("properties", {}).items()}
        return fields | OBJECT_VIEW_FIELDS
    for c in stores.collections.by_ids(source["collection_ids"], {"output_schema": 1}):
        props = (c.get("output_schema") or {}).get("properties")
        if props is None:
            return None
        fields |= {n: p.get("type", "any") for n, p in props.items()}
    return fields | DOCUMENT_VIEW_FIELDS


def check_extractors(specs: list[dict], available: dict[str, str] | None, settings: Settings,
                     errs: list[dict]) -> dict[str, str] | None:
    """Validate extractors in order; each sees the fields the ones before it produced.
    Returns the output fields (name -> type), None when unknowable."""
    fields = None if available is None else dict(available)
    for i, fe in enumerate(specs):
        base = f"feature_extractors.{i}"
        try:
            ext = get_extractor(fe["feature_extractor_name"], fe.get("version"))
        except KeyError:
            errs.append({"path": f"{base}.feature_extractor_name" if fe.get("version") is None
                         else f"{base}.version",
                         "message": f"unknown feature extractor '{fe['feature_extractor_name']}'"
                                    + (f" version '{fe['version']}'" if fe.get("version") else "")})
            fields = None
            continue
        fe["version"] = ext.spec.version
        params = fe.get("parameters") or {}
        errs.extend(ext.validate_parameters(params, f"{base}.parameters", settings))
        mapping = fe.get("input_mapping") or {}
        named = dict(ext.spec.input_fields)
        errs.extend(validate_input_mapping(ext.spec, mapping, f"{base}.input_mapping"))
        if fields is not None:
            for name, decl in named.items():
                src = mapping.get(name, name)
                if src.split(".")[0] not in fields:
                    if name in mapping or decl.get("required", True):
                        errs.append({"path": f"{base}.input_mapping.{name}",
                                     "message": f"the source provides no field '{src}'"})
            if not named:
                for name, src in mapping.items():
                    if src.split(".")[0] not in fields:
                        errs.append({"path": f"{base}.input_mapping.{name}",
                                     "message": f"the source provides no field '{src}'"})
        try:
            produced = ext.output_fields_for(params)
        except Exception:  # noqa: BLE001 - params already reported invalid above
            produced = dict(ext.spec.output_fields)
        out_map = fe.get("output_mapping") or {}
        for name in out_map:
            if name not in produced:
                errs.append({"path": f"{base}.output_mapping.{name}",
                             "message": f"'{name}' is not an output of {ext.spec.name}"})
        mapped = {out_map.get(n, n): d.get("type", "any") for n, d in produced.items()}
        if ext.spec.replaces_record:
            fields = mapped if produced else None
        elif fields is not None:
            fields |= mapped
    return fields


def build_collection(stores: Stores, settings: Settings, ns_id: str, body: dict) -> dict:
    errs: list[dict] = []
    source = resolve_source(stores, ns_id, body["source"], errs)
    new_cid = new_id("collection")
    if source.get("collection_ids") and would_cycle(new_cid, source["collection_ids"],
                                                    stores.collections.all_in_namespace(ns_id)):
        errs.append({"path": "source.collection_id", "message": "would create a cycle"})
    available = None if errs else source_fields(stores, source)
    out_fields = check_extractors(body["feature_extractors"], available, settings, errs)
    apps = []
    for i, app in enumerate(body.get("taxonomy_applications") or []):
        tax = stores.taxonomies.find(ns_id, app["taxonomy_id"])
        if tax is None:
            errs.append({"path": f"taxonomy_applications.{i}.taxonomy_id",
                         "message": f"no taxonomy '{app['taxonomy_id']}' in this namespace"})
            continue
        resolved = {"taxonomy_id": tax["_id"], "output_collection": app.get("output_collection")}
        if app.get("output_collection"):
            target = stores.collections.find(ns_id, app["output_collection"])
            if target is None:
                errs.append({"path": f"taxonomy_applications.{i}.output_collection",
                             "message": f"no collection '{app['output_collection']}' in this namespace"})
            else:
                resolved["output_collection_id"] = target["_id"]
        apps.append(resolved)
    if errs:
        raise ValidationFailed(f"invalid collection: {len(errs)} problem(s)", details=errs)
    now = utcnow()
    doc = {"_id": new_cid, "namespace_id": ns_id, "collection_name": body["collection_name"],
           "description": body.get("description"), "source": source,
           "feature_extractors": body["feature_extractors"], "taxonomy_applications": apps,
           "enabled": body.get("enabled", True), "metadata": body.get("metadata") or {},
           "document_handling": body.get("document_handling") or {"output_type": "single"},
           "cache_config": body.get("cache_config"),
           "output_schema": {"properties": {n: {"type": t} for n, t in (out_fields or {}).items()}}
           if out_fields is not None else {"properties": {}},
           "status": "DONE", "created_at": now, "updated_at": now}
    return doc


def sink_collection(ns_id: str, name: str, pipeline_id: str) -> dict:
    """A collection a pipeline writes into and nothing else feeds: no extractors, and a bucket
    source naming no bucket, so a trigger of it finds nothing to do."""
    now = utcnow()
    return {"_id": new_id("collection"), "namespace_id": ns_id, "collection_name": name,
            "description": f"destination of pipeline {pipeline_id}, created with it",
            "source": {"type": "bucket", "prefix_key": None, "filters": None, "bucket_ids": []},
            "feature_extractors": [], "taxonomy_applications": [], "enabled": True,
            "metadata": {"created_by_pipeline": pipeline_id}, "document_handling": {"output_type": "single"},
            "cache_config": None, "output_schema": {"properties": {}}, "status": "DONE",
            "created_at": now, "updated_at": now}


def source_lineage(stores: Stores, collection: dict) -> list[dict]:
    """The chain of sources from the buckets down to this collection, as the seed shows it."""
    all_cols = {c["_id"]: c for c in stores.collections.all_in_namespace(collection["namespace_id"])}
    all_cols[collection["_id"]] = collection
    out = []
    for cid in lineage_chain(collection["_id"], all_cols):
        c = all_cols[cid]
        src = c["source"]
        config = {"type": src["type"], "bucket_id": (src.get("bucket_ids") or [None])[0],
                  "prefix_key": src.get("prefix_key"),
                  "collection_id": (src.get("collection_ids") or [None])[0], "filters": src.get("filters")}
        out.append({"source_type": src["type"], "collection_id": cid,
                    "bucket_id": config["bucket_id"],
                    "bucket_config": config if src["type"] == "bucket" else None,
                    "collection_config": config if src["type"] == "collection" else None,
                    "feature_extractors": c.get("feature_extractors", []),
                    "output_schema": c.get("output_schema")})

    return out
