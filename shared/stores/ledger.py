"""Chunk rows of a chunked job (batch tiers, pipeline runs). A row is completed exactly once
(conditional update), so a redelivered chunk can never count twice; progress is the sum of
completed rows, live while the job runs."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument, UpdateOne

from shared.timeutil import utcnow


class ChunkLedger:
    def __init__(self, coll: Any, owner_field: str):
        self.coll = coll
        self.owner_field = owner_field

    def ensure_indexes(self) -> None:
        self.coll.create_indexes([IndexModel([(self.owner_field, ASCENDING), ("done", ASCENDING)]),
                                  IndexModel([("held_by", ASCENDING), ("done", ASCENDING)], sparse=True)])

    def add(self, rows: list[dict]) -> None:
        if rows:
            self.coll.bulk_write([UpdateOne({"_id": r["_id"]}, {"$setOnInsert": r}, upsert=True)
                                  for r in rows], ordered=False)

    def get(self, chunk_id: str) -> dict | None:
        return self.coll.find_one({"_id": chunk_id})

    def complete(self, chunk_id: str, fields: dict, when: dict | None = None) -> bool:
        """Mark a chunk done with its results; False if it was done already (a redelivery)
        or no longer matches `when`."""
        res = self.coll.update_one({"_id": chunk_id, "done": False, **(when or {})},
                                   {"$set": {**fields, "done": True, "completed_at": utcnow()}})
        return res.modified_count == 1

    def split(self, chunk: dict, split_lo: Any, done_size: int, copy: tuple[str, ...]) -> dict | None:
        """Hand the records from `split_lo` on to a new pending chunk (a continuation) that
        copies the `copy` fields of its parent. The parent row records the split and the
        continuation's bounds in one atomic update, so a redelivery of the parent reads only
        [lo, split_at) and re-creates the continuation row if it died before writing it.
        None when the row changed meanwhile (no split made)."""
        hi = self.current_hi(chunk)
        n = len(chunk.get("continuations") or [])
        cont = {"_id": f"{chunk['_id']}+{n + 1}", "lo": split_lo, "hi": hi,
                "size": max(0, chunk.get("size", 0) - done_size)}
        # Compare-and-set on the split count: bounds may be documents ({"$bson": …} for an
        # external source's ObjectIds) that a query cannot compare for equality.
        updated = self.coll.find_one_and_update(
            {"_id": chunk["_id"], "done": False, **self.same_split(chunk)},
            {"$set": {"split_at": split_lo, "size": done_size, "splits": n + 1}, "$push": {"continuations": cont}},
            return_document=ReturnDocument.AFTER)
        if updated is not None:
            self.ensure_continuations(updated, copy)
        return updated

    @staticmethod
    def current_hi(chunk: dict) -> Any:
        """Where a chunk's own range ends now: its split point once split, else its `hi`."""
        return chunk["split_at"] if chunk.get("split_at") is not None else chunk.get("hi")

    @staticmethod
    def same_split(chunk: dict) -> dict:
        """A query condition: the row has been split exactly as often as `chunk` (so a
        completion counts only the range that execution read)."""
        return {"splits": chunk.get("splits")}     # None also matches a row never split

    def ensure_continuations(self, chunk: dict, copy: tuple[str, ...]) -> list[str]:
        """Continuation rows of a split chunk (created if missing); their ids."""
        conts = chunk.get("continuations") or []
        base = {k: chunk.get(k) for k in (self.owner_field, *copy)}
        self.add([{**base, **c, "done": False, "parent": chunk["_id"], "created_at": utcnow()} for c in conts])
        return [c["_id"] for c in conts]

    # -- which worker holds which chunk (shared.engine.liveness) --------------------------
    def mark_held(self, chunk_ids: list[str], worker: str) -> None:
        """`worker` received these chunks (running or prefetched); a redelivery elsewhere
        moves the mark to the worker that received it last."""
        if chunk_ids:
            self.coll.update_many({"_id": {"$in": chunk_ids}, "done": False, "held_by": {"$ne": worker}},
                                  {"$set": {"held_by": worker}})

    def holders(self) -> list[str]:
        """Workers holding unfinished chunks."""
        return [h for h in self.coll.distinct("held_by", {"done": False, "held_by": {"$type": "string"}})]

    def held_by(self, worker: str) -> list[dict]:
        return list(self.coll.find({"held_by": worker, "done": False}))

    def release(self, chunk_ids: list[str], worker: str) -> None:
        """The chunks were sent again: whoever receives them marks them anew."""
        self.coll.update_many({"_id": {"$in": chunk_ids}, "held_by": worker}, {"$set": {"held_by": None}})

    def pending(self, owner_id: str, **match: Any) -> list[dict]:
        return list(self.coll.find({self.owner_field: owner_id, "done": False, **match}))

    def rows(self, owner_id: str, **match: Any) -> list[dict]:
        return list(self.coll.find({self.owner_field: owner_id, **match}))

    def delete(self, owner_ids: list[str]) -> None:
        self.coll.delete_many({self.owner_field: {"$in": owner_ids}})
