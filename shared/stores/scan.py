"""Chunk boundaries over a query, by `_id`: chunk i covers lo <= _id < hi (hi None = open)."""
from __future__ import annotations

from typing import Any


ID_BATCH = 5000


def id_boundaries(coll: Any, query: dict, size: int) -> tuple[list[tuple[str, str | None]], int]:
    """Split the rows matching `query` into ranges of at most `size`; returns (ranges, total).
    Reads ids only (an index-covered scan), never records, in bounded batches: a default
    getMore returns up to 16 MB of ids at once, and the process that planned a large tier
    kept that much more memory for good."""
    starts: list[str] = []
    total = 0
    for i, row in enumerate(coll.find(query, {"_id": 1}).sort("_id", 1).batch_size(ID_BATCH)):
        if i % size == 0:
            starts.append(row["_id"])
        total += 1
    ranges = [(lo, starts[k + 1] if k + 1 < len(starts) else None) for k, lo in enumerate(starts)]
    return ranges, total


def range_query(query: dict, lo: str, hi: str | None) -> dict:
    bounds: dict[str, Any] = {"$gte": lo}
    if hi is not None:
        bounds["$lt"] = hi
    return {"$and": [query, {"_id": bounds}]} if query else {"_id": bounds}
