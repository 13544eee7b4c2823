"""OpenAPI 3 generated from the same marshmallow schemas that validate requests."""
from __future__ import annotations

import re
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

_ATTR = "_sluice_openapi"
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def documented(summary: str, *, body: type[Schema] | Schema | None = None,
               response: type[Schema] | Schema | None = None, status: int = 200,
               query: dict[str, str] | None = None, namespaced: bool = True,
               errors: dict[int, str] | None = None) -> Callable:
    """Attach OpenAPI facts to a view; `build_spec` reads them."""
    def wrap(fn: Callable) -> Callable:
        setattr(fn, _ATTR, {"summary": summary, "body": body, "response": response, "status": status,
                            "query": query or {}, "namespaced": namespaced, "errors": errors or {}})
        return fn
    return wrap


def _schema_ref(spec: APISpec, schema: Any, owners: dict[str, type]) -> dict:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    if owners.setdefault(name, cls) is not cls:
        # Two resources' schemas share a class name (pipelines' and streaming's StatusSchema):
        # the second must not silently document the first one's shape.
        name = cls.__module__.split(".")[-2].replace("_", " ").title().replace(" ", "") + name
        owners[name] = cls
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=cls)
    return {"$ref": f"#/components/schemas/{name}"}


ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "integer"},
    "details": {"type": "array", "items": {"type": "object", "properties": {
        "path": {"type": "string"}, "message": {"type": "string"}}}}}}}}


def _limits(app: Flask) -> dict[str, int]:
    settings = app.config["SLUICE_SETTINGS"]
    return {"max_batch_objects": settings.max_batch_objects, "max_body_bytes": settings.max_body_bytes}


def standard_errors(meta: dict, has_path_args: bool) -> dict[int, str]:
    """What any operation of its kind can answer, so clients (and the fuzzer) can rely on
    the documented status codes: a body can be too large or not JSON, a namespaced route or
    one naming a resource can miss it."""
    errors = {400: "invalid request", 401: "missing or bad key"}
    if meta["namespaced"] or has_path_args:
        errors[404] = "no such namespace or resource"
    if meta["body"] is not None:
        errors.update({413: "request body too large", 415: "body is not JSON"})
    return errors


def build_spec(app: Flask) -> dict:
    spec = APISpec(title="Sluice API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Namespaces, buckets, collections, batches, pipelines.",
                         # Clients (the sluice SDK) size their bulk uploads from these.
                         "x-sluice-limits": _limits(app)})
    spec.components.schema("Error", ERROR_SCHEMA)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    owners: dict[str, type] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, _ATTR, None)
        if meta is None:
            continue
        path = _RULE_ARG.sub(r"{\1}", rule.rule)
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in rule.arguments]
        if meta["namespaced"]:
            params.append({"name": "X-Namespace", "in": "header", "required": False,
                           "schema": {"type": "string"},
                           "description": "Namespace name or id (or ?namespace=)"})
        params += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"},
                    "description": d} for n, d in meta["query"].items()]
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": "OK"}
        if meta["response"] is not None:
            ok["content"] = {"application/json": {"schema": _schema_ref(spec, meta["response"], owners)}}
        elif meta["status"] != 204:
            # Every answer with a body is a JSON object; say at least that much.
            ok["content"] = {"application/json": {"schema": {"type": "object"}}}
        responses[str(meta["status"])] = ok
        for code, desc in {**standard_errors(meta, bool(rule.arguments)), **meta["errors"]}.items():
            responses[str(code)] = {"description": desc, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        op: dict[str, Any] = {"summary": meta["summary"], "parameters": params, "responses": responses,
                              "security": [{"bearer": []}]}
        if meta["body"] is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema_ref(spec, meta["body"], owners)}}}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            spec.path(path=path, operations={method.lower(): dict(op)})
    return spec.to_dict()
