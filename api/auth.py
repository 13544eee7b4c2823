"""Bearer-key authentication and namespace resolution.

Keys are looked up on every request (no cache) so a revocation takes effect at once.
A resource of namespace A is looked up only inside A, so from B it is a 404, never a 403.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import g, request

from api.context import settings, stores
from shared.errors import BadRequest, Forbidden, Unauthorized
from shared.stores.api_keys import ALL_NAMESPACES

PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", "/v1/openapi.json")


@dataclass(frozen=True)
class Principal:
    key_id: str
    is_admin: bool
    namespaces: frozenset[str] | None  # None = every namespace
    rate_limit: dict | None = None     # the key's own request budget, if the admin set one

    def may_use(self, namespace_id: str) -> bool:
        return self.namespaces is None or namespace_id in self.namespaces


def authenticate() -> None:
    if request.path in PUBLIC_PATHS or not request.path.startswith("/v1"):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing or malformed Authorization header; expected 'Bearer <api key>'",
                           code="missing_api_key")
    token = token.strip()
    admin_key = settings().admin_key
    if admin_key and hmac.compare_digest(token.encode(), admin_key.encode()):
        g.principal = Principal("admin", True, None)
        return
    key = stores().api_keys.authenticate(token)
    if key is None:
        raise Unauthorized("invalid or revoked API key", code="invalid_api_key")
    scope = key["namespaces"]
    g.principal = Principal(key["_id"], False,
                            None if scope == ALL_NAMESPACES else frozenset(scope), key.get("rate_limit"))


def principal() -> Principal:
    return g.principal


def require_admin() -> None:
    if not principal().is_admin:
        raise Forbidden("this operation needs the admin key", code="admin_required")


def current_namespace() -> dict:
    """The namespace named by X-Namespace (name or id), falling back to ?namespace=."""
    cached = g.get("namespace")
    if cached is not None:
        return cached
    ref = request.headers.get("X-Namespace") or request.args.get("namespace")
    if not ref:
        raise BadRequest("this route needs a namespace: send the X-Namespace header (name or id) "
                         "or ?namespace=", code="namespace_required",
                         details=[{"path": "X-Namespace", "message": "is required"}])
    ns = stores().namespaces.get(ref)
    if not principal().may_use(ns["_id"]):
        raise Forbidden(f"this API key is not scoped to namespace '{ref}'", code="namespace_forbidden")
    g.namespace = ns
    return ns


def namespace_id() -> str:
    return current_namespace()["_id"]
