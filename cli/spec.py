"""The `sluice apply` spec, as pure functions: load it (YAML or JSON), check its shape and put
its resources in dependency order.

    namespace: demo
    buckets:      [{bucket_name, description?, metadata?, schema?, unique_key?}]
    taxonomies:   [{taxonomy_name, description?, nodes}]
    connections:  [{name, type, config}]
    collections:  [{collection_name, source, feature_extractors?, taxonomy_applications?, ...}]
    pipelines:    [{alias, code, source: {connection_id}, destination: {connection_id, ...}, schedule?, ...}]

Resources are matched by name (pipelines by alias); cli/diff.py compares them with
the server.
"""
from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTIONS = {"buckets": "bucket", "taxonomies": "taxonomy", "connections": "connection",
            "collections": "collection", "pipelines": "pipeline"}
NAME_FIELD = {"bucket": "bucket_name", "taxonomy": "taxonomy_name", "connection": "name",
              "collection": "collection_name", "pipeline": "alias"}
ID_FIELD = {"bucket": "bucket_id", "taxonomy": "taxonomy_id", "connection": "connection_id",
            "collection": "collection_id", "pipeline": "pipeline_id"}
ROUTE = {"bucket": "/v1/buckets", "taxonomy": "/v1/taxonomies", "connection": "/v1/connections",
         "collection": "/v1/collections", "pipeline": "/v1/pipelines"}
RANK = {"bucket": 0, "taxonomy": 1, "connection": 2, "collection": 3, "pipeline": 4}
PIPELINE_KEYS = frozenset({"alias", "code", "transformation_code", "source", "destination", "metadata", "enabled",
                           "update_time_field", "incremental", "js_limits", "schedule"})


class SpecError(Exception):
    def __init__(self, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.message, self.details = message, details or []


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    body: dict
    path: str          # where it sits in the spec, e.g. "collections.2"


# -- loading and checking ------------------------------------------------------------------
def load_spec(path: str | Path) -> dict:
    """Parse a spec file: JSON for *.json, YAML otherwise (YAML also reads JSON)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read {p}: {exc.strerror or exc}") from exc
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's common ground
        raise SpecError(f"{p} is not valid JSON: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError; yaml is imported lazily
        raise SpecError(f"{p} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(f"{p}: the spec must be a mapping", [{"path": "", "message": "must be a mapping"}])
    return data


def parse_spec(data: dict) -> tuple[str | None, list[Resource]]:
    """(namespace, resources in spec order); SpecError listing every problem."""
    errs: list[dict] = []
    for key in data:
        if key != "namespace" and key not in SECTIONS:
            errs.append({"path": str(key), "message": "unknown field; expected namespace or "
                                                      + ", ".join(SECTIONS)})
    namespace = data.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        errs.append({"path": "namespace", "message": "must be a non-empty string"})
    resources: list[Resource] = []
    for section, kind in SECTIONS.items():
        items = data.get(section) or []
        if not isinstance(items, list):
            errs.append({"path": section, "message": "must be a list"})
            continue
        seen: set[str] = set()
        for i, item in enumerate(items):
            path = f"{section}.{i}"
            if not isinstance(item, dict):
                errs.append({"path": path, "message": "must be a mapping"})
                continue
            name = item.get(NAME_FIELD[kind])
            if not isinstance(name, str) or not name:
                errs.append({"path": f"{path}.{NAME_FIELD[kind]}", "message": "is required (a non-empty string)"})
                continue
            if name in seen:
                errs.append({"path": f"{path}.{NAME_FIELD[kind]}", "message": f"duplicate {kind} '{name}'"})
            seen.add(name)
            errs.extend(_check_item(kind, item, path))
            resources.append(Resource(kind, name, item, path))
    if errs:
        raise SpecError(f"invalid spec: {len(errs)} problem(s)", errs)
    return namespace, resources


def _check_item(kind: str, item: dict, path: str) -> list[dict]:
    errs = []

    def need_map(key: str, required: bool = True) -> None:
        if key in item and not isinstance(item[key], dict) or required and key not in item:
            errs.append({"path": f"{path}.{key}", "message": "is required (a mapping)" if required
                         else "must be a mapping"})
    if kind == "connection":
        if not isinstance(item.get("type"), str):
            errs.append({"path": f"{path}.type", "message": "is required"})
        need_map("config", required=False)
    elif kind == "collection":
        need_map("source")
    elif kind == "pipeline":
        for key in item:
            if key not in PIPELINE_KEYS:
                errs.append({"path": f"{path}.{key}", "message": "unknown field"})
        if not (item.get("code") or item.get("transformation_code")):
            errs.append({"path": f"{path}.code", "message": "is required"})
        for end in ("source", "destination"):
            need_map(end)
            if isinstance(item.get(end), dict) and not item[end].get("connection_id"):
                errs.append({"path": f"{path}.{end}.connection_id", "message": "is required"})
    elif kind == "taxonomy" and not isinstance(item.get("nodes"), list):
        errs.append({"path": f"{path}.nodes", "message": "is required (a list)"})
    return errs


# -- ordering --------------------------------------------------------------------------------
def refs(value: Any) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def references(res: Resource) -> list[tuple[str, str]]:
    """(kind, id or name) of every other resource `res` names."""
    b, out = res.body, []
    if res.kind == "connection":
        cfg = b.get("config") or {}
        if b.get("type") == "bucket":
            out += [("bucket", r) for r in refs(cfg.get("bucket_id"))]
        elif b.get("type") == "collection":
            out += [("collection", r) for r in refs(cfg.get("collection_id"))]
    elif res.kind == "collection":
        src = b.get("source") or {}
        if src.get("type") == "collection":
            out += [("collection", r) for r in refs(src.get("collection_id")) + refs(src.get("collection_ids"))]
        else:
            out += [("bucket", r) for r in refs(src.get("bucket_id")) + refs(src.get("bucket_ids"))]
        for app in b.get("taxonomy_applications") or []:
            if isinstance(app, dict):
                out += [("taxonomy", r) for r in refs(app.get("taxonomy_id"))]
                out += [("collection", r) for r in refs(app.get("output_collection"))]
    elif res.kind == "pipeline":
        out += [("connection", r) for r in refs((b.get("source") or {}).get("connection_id"))]
        dest = b.get("destination") or {}
        out += [("connection", r) for r in refs(dest.get("connection_id"))]
        out += [("collection", r) for r in refs(dest.get("collection"))]
    return out


def plan(resources: list[Resource]) -> list[Resource]:
    """Dependency order: buckets, taxonomies, connections, collections (each after its
    sources), pipelines; a resource waits for anything in the spec it names (so a collection
    connection waits for its collection). References to resources not in the spec are taken
    to exist already. SpecError on a cycle."""
    index = {(r.kind, r.name): i for i, r in enumerate(resources)}
    deps: dict[int, set[int]] = {i: set() for i in range(len(resources))}
    users: dict[int, set[int]] = {i: set() for i in range(len(resources))}
    for i, r in enumerate(resources):
        for ref in references(r):
            j = index.get(ref)
            if j is not None and j != i:
                deps[i].add(j)
                users[j].add(i)
            elif j == i:
                raise SpecError("invalid spec: a resource names itself",
                                [{"path": r.path, "message": f"{r.kind} '{r.name}' refers to itself"}])
    ready = [(RANK[r.kind], i) for i, r in enumerate(resources) if not deps[i]]
    heapq.heapify(ready)
    order: list[Resource] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(resources[i])
        for u in users[i]:
            deps[u].discard(i)
            if not deps[u]:
                heapq.heappush(ready, (RANK[resources[u].kind], u))
    if len(order) < len(resources):
        raise SpecError("invalid spec: resources depend on each other in a cycle",
                        [{"path": r.path, "message": f"{r.kind} '{r.name}' waits for "
                          + ", ".join(f"{resources[j].kind} '{resources[j].name}'" for j in sorted(deps[i]))}
                         for i, r in enumerate(resources) if deps[i]])
    return order
