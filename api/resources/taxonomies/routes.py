from __future__ import annotations

from flask import Blueprint, request
from marshmallow import fields, validate

from api.auth import namespace_id
from api.context import stores
from api.jsonio import load, page_response, query_int
from api.openapi import documented
from api.resources.common import StrictSchema, name_field
from shared.errors import Conflict, ValidationFailed
from shared.filters import parse_filter
from shared.ids import new_id
from shared.timeutil import utcnow

bp = Blueprint("taxonomies", __name__, url_prefix="/v1/taxonomies")


class RuleSchema(StrictSchema):
    filters = fields.Dict(load_default=None, allow_none=True)
    keywords = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    keyword_fields = fields.List(fields.String(), load_default=list)


class NodeSchema(StrictSchema):
    node_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    label = fields.String(required=True, validate=validate.Length(min=1, max=256))
    parent_id = fields.String(load_default=None, allow_none=True)
    rule = fields.Nested(RuleSchema, load_default=None, allow_none=True)


class TaxonomyCreateSchema(StrictSchema):
    taxonomy_name = name_field(required=True)
    description = fields.String(load_default=None, allow_none=True)
    nodes = fields.List(fields.Nested(NodeSchema), required=True, validate=validate.Length(min=1, max=1000))


def _check_nodes(nodes: list[dict]) -> None:
    errs, ids = [], set()
    for i, n in enumerate(nodes):
        if n["node_id"] in ids:
            errs.append({"path": f"nodes.{i}.node_id", "message": f"duplicate node_id '{n['node_id']}'"})
        ids.add(n["node_id"])
    for i, n in enumerate(nodes):
        if n["parent_id"] is not None and n["parent_id"] not in ids:
            errs.append({"path": f"nodes.{i}.parent_id", "message": f"no node '{n['parent_id']}'"})
        rule = n.get("rule") or {}
        if rule.get("filters"):
            try:
                parse_filter(rule["filters"], f"nodes.{i}.rule.filters")
            except ValidationFailed as exc:
                errs.extend(exc.details)
    if errs:
        raise ValidationFailed(f"invalid taxonomy: {len(errs)} problem(s)", details=errs)


@bp.post("")
@documented("Create a taxonomy: nodes with a rule (a filter and/or keywords)", body=TaxonomyCreateSchema,
            status=201, errors={409: "name taken"})
def create():
    body = load(TaxonomyCreateSchema())
    _check_nodes(body["nodes"])
    now = utcnow()
    doc = {"_id": new_id("taxonomy"), "namespace_id": namespace_id(), **body,
           "created_at": now, "updated_at": now}
    return stores().taxonomies.render(stores().taxonomies.create(doc)), 201


@bp.get("")
@documented("List taxonomies", query={"limit": "page size", "cursor": "next page"})
def list_():
    page = stores().taxonomies.list(namespace_id(), limit=query_int("limit"), cursor=request.args.get("cursor"))
    return page_response(page)


@bp.get("/<taxonomy>")
@documented("Get a taxonomy", errors={404: "no such taxonomy"})
def get(taxonomy: str):
    return stores().taxonomies.render(stores().taxonomies.get(namespace_id(), taxonomy))


@bp.delete("/<taxonomy>")
@documented("Delete a taxonomy", errors={404: "no such taxonomy", 409: "applied by a collection"})
def delete(taxonomy: str):
    ns = namespace_id()
    doc = stores().taxonomies.get(ns, taxonomy)
    users = [c["collection_name"] for c in stores().collections.all_in_namespace(ns)
             if any(a["taxonomy_id"] == doc["_id"] for a in c.get("taxonomy_applications") or [])]
    if users:
        raise Conflict("collections apply this taxonomy", code="taxonomy_in_use",
                       details=[{"path": "collections", "message": n} for n in users])
    stores().taxonomies.delete(ns, doc["_id"])
    return {"deleted": True, "taxonomy_id": doc["_id"]}
