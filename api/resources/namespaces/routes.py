from __future__ import annotations

from flask import Blueprint, request

from api.auth import principal, require_admin
from api.context import stores
from api.jsonio import load, page_response, query_bool, query_int
from api.openapi import documented
from api.resources.namespaces.schemas import NamespaceCreateSchema, NamespacePatchSchema, NamespaceSchema
from shared.engine.admission import limits_of, usage
from shared.errors import Conflict

bp = Blueprint("namespaces", __name__, url_prefix="/v1/namespaces")


def _visible(id_or_name: str) -> dict:
    return stores().namespaces.get(id_or_name, principal().may_use)


@bp.post("")
@documented("Create a namespace (admin key)", body=NamespaceCreateSchema, response=NamespaceSchema,
            status=201, namespaced=False, errors={403: "not the admin key", 409: "name taken"})
def create():
    require_admin()
    body = load(NamespaceCreateSchema())
    doc = stores().namespaces.create(body["namespace_name"], body["description"], body["metadata"])
    return stores().namespaces.render(doc), 201


@bp.get("")
@documented("List the namespaces this key may use", namespaced=False,
            query={"limit": "page size (1-1000)", "cursor": "next_cursor of the previous page"})
def list_():
    p = principal()
    ids = None if p.namespaces is None else sorted(p.namespaces)
    page = stores().namespaces.list(ids=ids, limit=query_int("limit"), cursor=request.args.get("cursor"))
    return page_response(page)


@bp.get("/<id_or_name>")
@documented("Get a namespace by id or name", response=NamespaceSchema, namespaced=False,
            errors={404: "no such namespace"})
def get(id_or_name: str):
    return render_with_usage(_visible(id_or_name))


def render_with_usage(ns: dict) -> dict:
    return {**stores().namespaces.render(ns), "limits": limits_of(ns), "usage": usage(stores(), ns["_id"])}


@bp.patch("/<id_or_name>")
@documented("Set a namespace's limits (admin key): max_concurrent_chunks, max_active_batches, "
            "default_priority, requests_per_second, burst; null lifts one", body=NamespacePatchSchema,
            response=NamespaceSchema, namespaced=False, errors={403: "not the admin key", 404: "no such namespace"})
def patch(id_or_name: str):
    require_admin()
    ns = stores().namespaces.get(id_or_name)
    body = load(NamespacePatchSchema())
    return render_with_usage(stores().namespaces.set_limits(ns["_id"], body["limits"]))


@bp.delete("/<id_or_name>")
@documented("Delete a namespace (admin key); refuses while it holds resources unless ?force=true",
            namespaced=False, query={"force": "delete everything the namespace holds"},
            errors={404: "no such namespace", 409: "namespace holds resources"})
def delete(id_or_name: str):
    require_admin()
    ns = stores().namespaces.get(id_or_name)
    counts = stores().namespace_resource_counts(ns["_id"])
    if counts and not query_bool("force"):
        raise Conflict("namespace still holds resources; delete them first or pass ?force=true",
                       code="namespace_not_empty",
                       details=[{"path": name, "message": "has resources"} for name in counts])
    stores().delete_namespace(ns["_id"])
    return {"deleted": True, "namespace_id": ns["_id"]}
