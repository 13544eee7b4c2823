"""Bearer-key authentication and namespace resolution.

Keys are looked up on every request (no cache) so a revocation takes effect at once.
A resource of namespace A is looked up only inside A, so from B it is a 404, never a 403.
Without X-Namespace, a route addressed by a globally unique id (`bat_…`, `obj_…`, …) runs in
that id's namespace when the key may use it, and is a 404 otherwise.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import current_app, g, request

from api.context import settings, stores
from shared.errors import BadRequest, Forbidden, NotFound, Unauthorized
from shared.stores.api_keys import ALL_NAMESPACES
from shared.stores.owners import namespace_of

METRICS_PATH = "/metrics"
PUBLIC_PATHS = ("/healthz", "/readyz", "/v1/openapi.json")


@dataclass(frozen=True)
class Principal:
    key_id: str
    is_admin: bool
    namespaces: frozenset[str] | None  # None = every namespace
    rate_limit: dict | None = None     # the key's own request budget, if the admin set one

    def may_use(self, namespace_id: str) -> bool:
        return self.namespaces is None or namespace_id in self.namespaces


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing or malformed Authorization header; expected 'Bearer <api key>'",
                           code="missing_api_key")
    return token.strip()


def _same(token: str, secret: str) -> bool:
    return bool(secret) and hmac.compare_digest(token.encode(), secret.encode())


def authenticate() -> None:
    if request.path == METRICS_PATH:
        authenticate_metrics()
        return
    if request.path in PUBLIC_PATHS or not request.path.startswith("/v1"):
        return
    session_principal = current_app.extensions.get("sluice.session_principal")
    if session_principal is not None and not request.headers.get("Authorization"):
        if (signed_in := session_principal()) is not None:   # the web console's cookie session
            g.principal = signed_in
            return
    found = principal_for_secret(_bearer())
    if found is None:
        raise Unauthorized("invalid or revoked API key", code="invalid_api_key")
    g.principal = found


def principal_for_secret(token: str) -> Principal | None:
    """Who an API key (or the admin key) is; None when it is unknown or revoked."""
    if _same(token, settings().admin_key):
        return Principal("admin", True, None)
    key = stores().api_keys.authenticate(token)
    return None if key is None else principal_for_key(key)


def principal_for_key(key: dict) -> Principal:
    scope = key["namespaces"]
    return Principal(key["_id"], False, None if scope == ALL_NAMESPACES else frozenset(scope),
                     key.get("rate_limit"))


def authenticate_metrics() -> None:
    """`/metrics` lists every namespace's collections, pipelines and their counts: only the
    metrics token (for a Prometheus scrape config) or the admin key may read it."""
    token = _bearer()
    if not (_same(token, settings().metrics_token) or _same(token, settings().admin_key)):
        raise Unauthorized("GET /metrics needs SLUICE_METRICS_TOKEN or the admin key as bearer token",
                           code="invalid_metrics_token")


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
        ref = _namespace_of_path_ids()
    if not ref:
        raise BadRequest("this route needs a namespace: send the X-Namespace header (name or id) "
                         "or ?namespace=", code="namespace_required",
                         details=[{"path": "X-Namespace", "message": "is required"}])
    # Another tenant's namespace answers exactly like one that does not exist.
    ns = stores().namespaces.get(ref, principal().may_use)
    g.namespace = ns
    return ns


def _namespace_of_path_ids() -> str | None:
    """The namespace of the first id in the route's path that the key may see. An id that
    names nothing, or something the key may not see, is a 404 (as it is with the header)."""
    missing = None
    for value in (request.view_args or {}).values():
        owner = namespace_of(stores(), str(value))
        if owner is None:
            continue
        kind, ns_id = owner
        if ns_id is not None and principal().may_use(ns_id):
            return ns_id
        missing = missing or (kind, value)
    if missing:
        kind, value = missing
        raise NotFound(f"{kind} '{value}' does not exist", code=f"{kind}_not_found")
    return None


def namespace_id() -> str:
    return current_namespace()["_id"]
