"""Chunk rows of a chunked job (batch tiers, pipeline runs). A row is completed exactly once
(conditional update), so a redelivered chunk can never count twice; progress is the sum of
completed rows, live while the job runs."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne

from shared.timeutil import utcnow


class ChunkLedger:
    def __init__(self, coll: Any, owner_field: str):
        self.coll = coll
        self.owner_field = owner_field

    def ensure_indexes(self) -> None:
        self.coll.create_indexes([IndexModel([(self.owner_field, ASCENDING), ("done", ASCENDING)])])

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

    def pending(self, owner_id: str, **match: Any) -> list[dict]:
        return list(self.coll.find({self.owner_field: owner_id, "done": False, **match}))

    def rows(self, owner_id: str, **match: Any) -> list[dict]:
        return list(self.coll.find({self.owner_field: owner_id, **match}))

    def delete(self, owner_ids: list[str]) -> None:
        self.coll.delete_many({self.owner_field: {"$in": owner_ids}})
