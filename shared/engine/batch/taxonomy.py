"""Taxonomy labelling: each node's rule (a filter and/or keywords) is checked against a
document; matches are recorded as labels with their path from the root node."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from shared.engine.batch.docbuild import document_id
from shared.filters import matches, parse_filter


@dataclass(frozen=True)
class CompiledNode:
    node_id: str
    label: str
    path: str
    filter: Any
    keywords: tuple[re.Pattern, ...]
    keyword_fields: tuple[str, ...]


@dataclass(frozen=True)
class CompiledTaxonomy:
    taxonomy_id: str
    name: str
    nodes: tuple[CompiledNode, ...]
    output_collection_id: str | None = None


def node_paths(nodes: list[dict]) -> dict[str, str]:
    by_id = {n["node_id"]: n for n in nodes}
    paths: dict[str, str] = {}
    for n in nodes:
        parts, cur, seen = [], n, set()
        while cur is not None and cur["node_id"] not in seen:
            seen.add(cur["node_id"])
            parts.append(cur["label"])
            cur = by_id.get(cur.get("parent_id")) if cur.get("parent_id") else None
        paths[n["node_id"]] = "/".join(reversed(parts))
    return paths


def compile_taxonomy(tax: dict, output_collection_id: str | None = None) -> CompiledTaxonomy:
    paths = node_paths(tax["nodes"])
    nodes = []
    for i, n in enumerate(tax["nodes"]):
        rule = n.get("rule") or {}
        nodes.append(CompiledNode(
            node_id=n["node_id"], label=n["label"], path=paths[n["node_id"]],
            filter=parse_filter(rule.get("filters"), f"nodes.{i}.rule.filters") if rule.get("filters") else None,
            keywords=tuple(re.compile(r"\b" + re.escape(k) + r"\b", re.IGNORECASE)
                           for k in rule.get("keywords") or []),
            keyword_fields=tuple(rule.get("keyword_fields") or [])))
    return CompiledTaxonomy(tax["_id"], tax["taxonomy_name"], tuple(nodes), output_collection_id)


def _texts(data: dict, fields: tuple[str, ...]) -> Iterable[str]:
    if fields:
        return (data[f] for f in fields if isinstance(data.get(f), str))
    return (v for v in data.values() if isinstance(v, str))


def node_matches(node: CompiledNode, data: dict) -> bool:
    if node.filter is None and not node.keywords:
        return False
    if node.filter is not None and not matches(node.filter, data):
        return False
    if node.keywords:
        texts = list(_texts(data, node.keyword_fields))
        if not any(p.search(t) for p in node.keywords for t in texts):
            return False
    return True


def labels_for(tax: CompiledTaxonomy, data: dict) -> list[dict]:
    return [{"node_id": n.node_id, "label": n.label, "path": n.path}
            for n in tax.nodes if node_matches(n, data)]


def apply_taxonomies(taxonomies: list[CompiledTaxonomy], docs: list[dict]) -> dict[str, list[dict]]:
    """Label `docs` in place (`taxonomy.{name}`); return copies for output collections."""
    extra: dict[str, list[dict]] = {}
    for tax in taxonomies:
        for doc in docs:
            labels = labels_for(tax, doc["data"])
            if tax.output_collection_id is None:
                doc.setdefault("taxonomy", {})[tax.name] = labels
            elif labels:
                copy = {**doc, "_id": document_id(tax.output_collection_id, doc["_id"], "taxonomy"),
                        "collection_id": tax.output_collection_id, "source_type": "document",
                        "source_id": doc["_id"], "source_collection_id": doc["collection_id"],
                        "lineage_path": doc["lineage_path"] + [f"collection:{tax.output_collection_id}"],
                        "taxonomy": {tax.name: labels}}
                extra.setdefault(tax.output_collection_id, []).append(copy)
    return extra
