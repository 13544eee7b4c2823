"""Pure DAG planning over collections: tiers, cycles and lineage. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class TierPlan:
    tier_num: int
    collection_ids: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"tier_num": self.tier_num, "collection_ids": list(self.collection_ids)}


def upstream_of(collection: Mapping) -> list[str]:
    src = collection.get("source") or {}
    return list(src.get("collection_ids") or []) if src.get("type") == "collection" else []


def downstream_map(collections: Iterable[Mapping]) -> dict[str, list[str]]:
    """collection id -> ids of collections that read from it."""
    out: dict[str, list[str]] = {}
    for c in collections:
        for up in upstream_of(c):
            out.setdefault(up, []).append(c["_id"])
    for ids in out.values():
        ids.sort()
    return out


def plan_tiers(root_id: str, collections: Iterable[Mapping]) -> list[TierPlan]:
    """Tiers for a trigger of `root_id`: the root, then everything downstream of it, each
    collection placed one tier below the deepest of its (in-plan) sources, so a collection
    runs only after every upstream collection of the plan has written its documents."""
    cols = {c["_id"]: c for c in collections}
    down = downstream_map(cols.values())
    reach: set[str] = set()
    stack = [root_id]
    while stack:
        cid = stack.pop()
        if cid in reach:
            continue
        reach.add(cid)
        stack.extend(down.get(cid, []))
    depth: dict[str, int] = {}

    def level(cid: str, seen: frozenset[str]) -> int:
        if cid in depth:
            return depth[cid]
        if cid in seen:
            raise ValueError(f"cycle through collection {cid}")
        ups = [u for u in upstream_of(cols[cid]) if u in reach] if cid != root_id else []
        depth[cid] = 0 if not ups else 1 + max(level(u, seen | {cid}) for u in ups)
        return depth[cid]

    for cid in reach:
        level(cid, frozenset())
    tiers: dict[int, list[str]] = {}
    for cid, d in depth.items():
        tiers.setdefault(d, []).append(cid)
    return [TierPlan(n, tuple(sorted(tiers[n]))) for n in sorted(tiers)]


def would_cycle(new_id: str, sources: Iterable[str], collections: Iterable[Mapping]) -> bool:
    """True when making `new_id` read from `sources` closes a loop in the DAG."""
    cols = {c["_id"]: c for c in collections}
    stack, seen = list(sources), set()
    while stack:
        cid = stack.pop()
        if cid == new_id:
            return True
        if cid in seen or cid not in cols:
            continue
        seen.add(cid)
        stack.extend(upstream_of(cols[cid]))
    return False


def lineage_chain(collection_id: str, collections: Mapping[str, Mapping]) -> list[str]:
    """Collection ids from the root-most ancestor down to `collection_id` (first parent each
    step; a collection with several sources follows the first, which is what lineage shows)."""
    chain, cur, seen = [], collection_id, set()
    while cur and cur not in seen:
        seen.add(cur)
        chain.append(cur)
        ups = upstream_of(collections[cur]) if cur in collections else []
        cur = ups[0] if ups else None
    return list(reversed(chain))
