from __future__ import annotations

from flask import Blueprint, request

from api.auth import require_admin
from api.context import stores
from api.jsonio import load, page_response, query_int
from api.openapi import documented
from api.resources.api_keys.schemas import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeyPatchSchema
from shared.errors import ValidationFailed

bp = Blueprint("api_keys", __name__, url_prefix="/v1/api-keys")


@bp.post("")
@documented("Create an API key scoped to namespaces (admin key); the secret is returned once",
            body=ApiKeyCreateSchema, response=ApiKeyCreatedSchema, status=201, namespaced=False)
def create():
    require_admin()
    body = load(ApiKeyCreateSchema())
    scope = body["namespaces"]
    if scope != "*":
        ids, errors = [], []
        for i, ref in enumerate(scope):
            ns = stores().namespaces.find(ref)
            if ns is None:
                errors.append({"path": f"namespaces.{i}", "message": f"no namespace '{ref}'"})
            else:
                ids.append(ns["_id"])
        if errors:
            raise ValidationFailed("unknown namespaces", details=errors)
        scope = sorted(set(ids))
    doc, secret = stores().api_keys.create(body["name"], scope)
    return {**stores().api_keys.render(doc), "secret": secret}, 201


@bp.get("")
@documented("List active API keys (admin key)", namespaced=False)
def list_():
    require_admin()
    page = stores().api_keys.list(limit=query_int("limit"), cursor=request.args.get("cursor"))
    return page_response(page)


@bp.patch("/<key_id>")
@documented("Set an API key's request budget (admin key): requests_per_second and burst; null is the default",
            body=ApiKeyPatchSchema, namespaced=False, errors={403: "not the admin key", 404: "no such key"})
def patch(key_id: str):
    require_admin()
    body = load(ApiKeyPatchSchema())
    return stores().api_keys.render(stores().api_keys.set_rate_limit(key_id, body["rate_limit"]))


@bp.delete("/<key_id>")
@documented("Revoke an API key (admin key); takes effect at once", namespaced=False,
            errors={404: "no such key"})
def revoke(key_id: str):
    require_admin()
    stores().api_keys.revoke(key_id)
    return {"deleted": True, "key_id": key_id}
