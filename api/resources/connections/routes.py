"""Connections: where pipelines read from (bucket, collection, mongodb) and write to
(collection, mongodb, webhook). Secrets are stored encrypted (shared/secrets/sealing.py)
and never shown (see shared/connectors/config.py for the masking rule)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from api.auth import namespace_id
from api.context import settings, stores
from api.jsonio import load, page_response, query_int, raw_json
from api.openapi import documented
from api.resources.connections.schemas import (ConnectionCreateSchema, ConnectionPatchSchema,
                                               ConnectionSchema, ConnectionTestSchema)
from shared.connectors import probe_connection
from shared.connectors.config import CONNECTION_TYPES, ROLES, merge_config, validate_config
from shared.errors import Conflict, ValidationFailed

bp = Blueprint("connections", __name__, url_prefix="/v1/connections")


def render(doc: dict) -> dict:
    """A connection as the API shows it: secrets masked, plus the roles its type can play."""
    return {**stores().connections.render(doc), "roles": list(ROLES.get(doc["type"], ()))}


def _resolver(ns: str):
    def resolve(kind: str, ref: str) -> str | None:
        store = stores().buckets if kind == "bucket" else stores().collections
        doc = store.find(ns, ref)
        return doc["_id"] if doc else None
    return resolve


def _load(schema: Any, raw: Any) -> tuple[dict | None, list[dict]]:
    """Like `load`, but returns the problems so config problems can be listed with them."""
    try:
        return load(schema, raw), []
    except ValidationFailed as exc:
        return None, list(exc.details)


def _fail_if(details: list[dict]) -> None:
    if details:
        raise ValidationFailed(f"invalid request: {len(details)} problem(s)", details=details)


@bp.post("")
@documented("Create a connection", body=ConnectionCreateSchema, response=ConnectionSchema, status=201,
            errors={409: "name taken"})
def create():
    ns = namespace_id()
    raw = raw_json()
    body, details = _load(ConnectionCreateSchema(), raw)
    config: dict = {}
    if isinstance(raw, dict) and raw.get("type") in CONNECTION_TYPES and isinstance(raw.get("config", {}), dict):
        config, problems = validate_config(raw["type"], raw.get("config", {}), _resolver(ns),
                                           allow_private=settings().webhook_allow_private)
        details += problems
    _fail_if(details)
    doc = stores().connections.create(ns, body["name"], body["type"], config)
    return render(doc), 201


@bp.get("")
@documented("List connections", query={"limit": "page size (1-1000)", "cursor": "next_cursor of the previous page",
                                       "type": "only connections of this type"})
def list_():
    conn_type = request.args.get("type") or None
    if conn_type is not None and conn_type not in CONNECTION_TYPES:
        raise ValidationFailed.at("type", f"must be one of: {', '.join(CONNECTION_TYPES)}")
    page = stores().connections.list(namespace_id(), conn_type=conn_type, limit=query_int("limit"),
                                     cursor=request.args.get("cursor"))
    page.items[:] = [{**item, "roles": list(ROLES.get(item["type"], ()))} for item in page.items]
    return page_response(page)


@bp.get("/<connection>")
@documented("Get a connection by id or name (secrets masked)", response=ConnectionSchema,
            errors={404: "no such connection"})
def get(connection: str):
    return render(stores().connections.get(namespace_id(), connection, lenient=True))


@bp.patch("/<connection>")
@documented("Rename a connection or change its config (re-validated; masked values keep the stored "
            "secret)", body=ConnectionPatchSchema, response=ConnectionSchema,
            errors={404: "no such connection", 409: "name taken"})
def patch(connection: str):
    ns = namespace_id()
    raw = raw_json()
    # Lenient: a secret no key opens comes back masked, and sending the mask back is then
    # answered "send the real secret" — the way to repair it after a lost key.
    doc = stores().connections.get(ns, connection, lenient=True)
    body, details = _load(ConnectionPatchSchema(), raw)
    changes: dict = {}
    if isinstance(raw, dict):
        if "type" in raw and raw["type"] != doc["type"]:
            details.append({"path": "type", "message": "is immutable after creation"})
        if isinstance(raw.get("config"), dict):
            merged, problems = merge_config(doc["type"], doc.get("config") or {}, raw["config"])
            changes["config"], more = validate_config(doc["type"], merged, _resolver(ns),
                                                      allow_private=settings().webhook_allow_private)
            details += problems + more
    _fail_if(details)
    if "name" in body:
        changes["name"] = body["name"]
    if not changes:
        return render(doc)
    return render(stores().connections.update(ns, doc["_id"], doc["type"], changes))


@bp.delete("/<connection>")
@documented("Delete a connection", errors={404: "no such connection", 409: "pipelines use it"})
def delete(connection: str):
    ns = namespace_id()
    doc = stores().connections.get(ns, connection, lenient=True)
    users = [{"path": "pipelines", "message": name}
             for name in stores().pipelines.names_using_connection(ns, doc["_id"])]
    users += [{"path": "streaming_pipelines", "message": name}
              for name in stores().streaming.names_using_connection(ns, doc["_id"])]
    if users:
        raise Conflict("pipelines use this connection; delete them or point them elsewhere first",
                       code="connection_in_use", details=users)
    stores().connections.delete(ns, doc["_id"])
    return {"deleted": True, "connection_id": doc["_id"]}


@bp.post("/<connection>/test")
@documented("Reach the connection's endpoint once", response=ConnectionTestSchema,
            errors={404: "no such connection"})
def test(connection: str):
    doc = stores().connections.get(namespace_id(), connection)
    return probe_connection(stores(), doc, settings())
