"""Chunk boundaries over a query, by `_id`: chunk i covers lo <= _id < hi (hi None = open)."""
from __future__ import annotations

from typing import Any

from bson import ObjectId


ID_BATCH = 5000


def id_boundaries(coll: Any, query: dict, size: int) -> tuple[list[tuple[str, str | None]], int]:
    """Split the rows matching `query` into ranges of at most `size`; returns (ranges, total).
    Reads ids only (an index-covered scan), never records, in bounded batches: a default
    getMore returns up to 16 MB of ids at once, and the process that planned a large tier
    kept that much more memory for good."""
    starts: list[str] = []
    total = 0
    last: Any = None
    for i, row in enumerate(coll.find(query, {"_id": 1}).sort("_id", 1).batch_size(ID_BATCH)):
        if i % size == 0:
            starts.append(row["_id"])
        total += 1
        last = row["_id"]
    # The last range ends just after the last id seen, so records written after planning
    # (ids are time-ordered) are not read by this job and its totals hold.
    end = successor(last)
    ranges = [(lo, starts[k + 1] if k + 1 < len(starts) else end) for k, lo in enumerate(starts)]
    return ranges, total


def successor(value: Any) -> Any:
    """The smallest `_id` above `value` of the same type, where one can be named: a string
    followed by NUL, the next ObjectId. None (an open end) for other types: between two
    numbers MongoDB orders every other number, int or not."""
    if isinstance(value, str):
        return value + "\x00"
    if isinstance(value, ObjectId):
        n = int.from_bytes(value.binary, "big") + 1
        return ObjectId(n.to_bytes(12, "big")) if n < 1 << 96 else None
    return None


def range_query(query: dict, lo: str, hi: str | None) -> dict:
    bounds: dict[str, Any] = {"$gte": lo}
    if hi is not None:
        bounds["$lt"] = hi
    return {"$and": [query, {"_id": bounds}]} if query else {"_id": bounds}
