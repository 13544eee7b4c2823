"""Dead letters: records of a pipeline run that failed at transform, validate or write, kept
with their input record so a replay can run exactly them again. Bounded per run (a counter row
per run reserves room atomically) and removed by a TTL index."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne

from shared.stores.base import ASCENDING, IndexModel, Store
from shared.stores.paging import Page, paginate
from shared.stores.scan import id_boundaries, range_query
from shared.timeutil import utcnow


class DeadLetterStore(Store):
    collection_name = "dead_letters"
    id_field = "id"

    def __init__(self, db: Any, per_run: int, ttl_s: int):
        super().__init__(db)
        self.per_run, self.ttl_s = per_run, ttl_s
        self.counts = db["dead_letter_counts"]

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("run_id", ASCENDING), ("_id", ASCENDING)]),
                IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)]

    def ensure_indexes(self) -> None:
        super().ensure_indexes()
        self.counts.create_indexes([IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)])

    def delete_in_namespace(self, namespace_id: str) -> int:
        ids = self.coll.distinct("run_id", {"namespace_id": namespace_id})
        self.counts.delete_many({"_id": {"$in": ids}})
        return self.coll.delete_many({"namespace_id": namespace_id}).deleted_count

    def add(self, run_id: str, rows: list[dict]) -> int:
        """Keep `rows` (each with a deterministic `_id`), as many as the run has room for; a
        redelivered chunk re-writes its own rows and takes no more room. How many were kept."""
        if not rows or self.per_run <= 0:
            return 0
        stored = set(self.coll.distinct("_id", {"_id": {"$in": [r["_id"] for r in rows]}}))
        fresh = [r for r in rows if r["_id"] not in stored]
        kept = [r for r in rows if r["_id"] in stored]
        if fresh:
            expires = utcnow() + timedelta(seconds=self.ttl_s)
            before = self.counts.find_one_and_update(
                {"_id": run_id}, {"$inc": {"n": len(fresh)}, "$set": {"expires_at": expires}},
                upsert=True, return_document=ReturnDocument.BEFORE)
            room = max(0, self.per_run - ((before or {}).get("n") or 0))
            kept += fresh[:room]
        if kept:
            expires = utcnow() + timedelta(seconds=self.ttl_s)
            self.coll.bulk_write([UpdateOne({"_id": r["_id"]}, {"$set": {**r, "expires_at": expires}}, upsert=True)
                                  for r in kept], ordered=False)
        return len(kept)

    def page(self, run_id: str, *, limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, {"run_id": run_id}, limit=limit, cursor=cursor, sort_field="_id",
                        descending=False,
                        render=lambda r: {"id": r["_id"], **{k: v for k, v in r.items()
                                                            if k not in ("_id", "namespace_id", "expires_at")}})

    def count(self, run_id: str) -> int:
        return self.coll.count_documents({"run_id": run_id})

    # -- a replay reads the dead letters of a run as its source ---------------------------------
    def boundaries(self, run_id: str, size: int) -> tuple[list[tuple[Any, Any | None]], int]:
        return id_boundaries(self.coll, {"run_id": run_id}, size)

    def fetch_range(self, run_id: str, lo: Any, hi: Any | None) -> list[dict]:
        return list(self.coll.find(range_query({"run_id": run_id}, lo, hi)).sort("_id", 1))
