"""Laying out a namespace's buckets and collections as the DAG they form (pure).

Columns are tiers: buckets in column 0, a collection one column right of the deepest of
its sources. Rows are assigned in order within a column; the template draws nodes as
boxes and edges as curves from a source's right edge to a collection's left edge."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from shared.engine.batch.planning import upstream_of

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 220, 96, 90, 28, 16


@dataclass
class Node:
    id: str
    kind: str            # "bucket" | "collection"
    name: str
    column: int
    row: int = 0
    lines: list[str] = field(default_factory=list)   # extractors, counts
    href: str = ""

    @property
    def x(self) -> int:
        return PAD + self.column * (NODE_W + COL_GAP)

    @property
    def y(self) -> int:
        return PAD + self.row * (NODE_H + ROW_GAP)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str            # SVG path data


def columns(buckets: Iterable[Mapping], collections: Iterable[Mapping]) -> dict[str, int]:
    """Node id -> column. Sources that are missing (deleted) are ignored; a cycle, which the
    API refuses to create, would fall back to column 1 rather than loop."""
    cols = {c["_id"]: c for c in collections}
    out: dict[str, int] = {b["_id"]: 0 for b in buckets}

    def col(cid: str, seen: frozenset[str]) -> int:
        if cid in out:
            return out[cid]
        ups = [u for u in upstream_of(cols[cid]) if u in cols and u not in seen]
        out[cid] = 1 + max((col(u, seen | {cid}) for u in ups), default=0)
        return out[cid]

    for cid in sorted(cols):
        col(cid, frozenset())
    return out


def sources_of(collection: Mapping) -> list[str]:
    src = collection.get("source") or {}
    return list(src.get("bucket_ids") or []) if src.get("type") == "bucket" else upstream_of(collection)


def layout(buckets: list[Mapping], collections: list[Mapping]) -> tuple[list[Node], list[Edge], int, int]:
    """Nodes with positions, edges with curves, and the drawing's width and height."""
    where = columns(buckets, collections)
    nodes: dict[str, Node] = {}
    for b in sorted(buckets, key=lambda b: b.get("bucket_name", "")):
        nodes[b["_id"]] = Node(b["_id"], "bucket", b.get("bucket_name", b["_id"]), 0)
    for c in sorted(collections, key=lambda c: (where[c["_id"]], c.get("collection_name", ""))):
        nodes[c["_id"]] = Node(c["_id"], "collection", c.get("collection_name", c["_id"]), where[c["_id"]])
    per_column: dict[int, int] = {}
    for n in nodes.values():
        n.row = per_column.get(n.column, 0)
        per_column[n.column] = n.row + 1
    edges = []
    for c in collections:
        for s in sources_of(c):
            if s in nodes:
                a, b = nodes[s], nodes[c["_id"]]
                x1, y1, x2, y2 = a.x + NODE_W, a.y + NODE_H // 2, b.x, b.y + NODE_H // 2
                mid = (x1 + x2) // 2
                edges.append(Edge(s, c["_id"], f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 6},{y2}"))
    width = PAD * 2 + (max(per_column, default=0) + 1) * (NODE_W + COL_GAP) - COL_GAP
    height = PAD * 2 + max(per_column.values(), default=1) * (NODE_H + ROW_GAP) - ROW_GAP
    return list(nodes.values()), edges, width, height
