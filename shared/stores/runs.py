"""Pipeline runs, their chunk rows and their per-record failures."""
from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument, UpdateOne

from shared.errors import NotFound
from shared.status import allowed_from
from shared.stores.base import ASCENDING, DESCENDING, HeartbeatStore, IndexModel
from shared.stores.ledger import ChunkLedger
from shared.stores.paging import Page, check_limit, paginate
from shared.timeutil import utcnow

STEPS = ("read", "filter", "transform", "validate", "write")


class RunStore(HeartbeatStore):
    collection_name = "runs"
    id_field = "id"

    def __init__(self, db: Any):
        super().__init__(db)
        self.ledger = ChunkLedger(db["run_chunks"], "run_id")
        self.failures = db["run_failures"]

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
                IndexModel([("pipeline", ASCENDING), ("created_at", ASCENDING)]),
                IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)])]

    def ensure_indexes(self) -> None:
        super().ensure_indexes()
        self.ledger.ensure_indexes()
        self.failures.create_indexes([IndexModel([("run_id", ASCENDING), ("step", ASCENDING),
                                                  ("message", ASCENDING)])])

    def delete_in_namespace(self, namespace_id: str) -> int:
        ids = [d["_id"] for d in self.coll.find({"namespace_id": namespace_id}, {"_id": 1})]
        self.ledger.delete(ids)
        self.failures.delete_many({"run_id": {"$in": ids}})
        return super().delete_in_namespace(namespace_id)

    def create(self, doc: dict) -> dict:
        self.coll.insert_one(doc)
        return doc

    def get(self, run_id: str, namespace_id: str | None = None) -> dict:
        q: dict[str, Any] = {"_id": run_id}
        if namespace_id is not None:
            q["namespace_id"] = namespace_id
        doc = self.coll.find_one(q)
        if doc is None:
            raise NotFound("run does not exist", code="run_not_found")
        return doc

    def transition(self, run_id: str, new: str, extra: dict | None = None) -> dict | None:
        return self.coll.find_one_and_update(
            {"_id": run_id, "status": {"$in": allowed_from("run", new)}},
            {"$set": {"status": new, "updated_at": utcnow(), **(extra or {})}},
            return_document=ReturnDocument.AFTER)

    def set_fields(self, run_id: str, fields: dict) -> None:
        self.coll.update_one({"_id": run_id}, {"$set": {**fields, "updated_at": utcnow()}})

    def active(self) -> list[dict]:
        """Runs not finished yet (the recovery sweep looks at each)."""
        return list(self.coll.find({"status": {"$in": ["PENDING", "RUNNING"]}}))

    def stalled(self, older_than: Any, statuses: list[str]) -> list[dict]:
        return list(self.coll.find({"status": {"$in": statuses}, "heartbeat_at": {"$lt": older_than}}))

    def list(self, namespace_id: str, query: dict, *, limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, {"namespace_id": namespace_id, **query}, limit=limit, cursor=cursor)

    CHUNK_FIELDS = ("index",)

    def split_chunk(self, chunk: dict, split_lo: Any, done_size: int) -> dict | None:
        return self.ledger.split(chunk, split_lo, done_size, self.CHUNK_FIELDS)

    def ensure_continuations(self, chunk: dict) -> list[str]:
        return self.ledger.ensure_continuations(chunk, self.CHUNK_FIELDS)

    def totals(self, run_id: str) -> dict:
        """Live per-step counts summed over completed chunk rows, plus chunk progress."""
        passed, failed = [0] * len(STEPS), [0] * len(STEPS)
        total = done_rows = rows = 0
        max_update = None
        for row in self.ledger.rows(run_id):
            rows += 1
            total += row.get("size", 0)
            if row.get("done"):
                done_rows += 1
                for i in range(len(STEPS)):
                    passed[i] += row["passed"][i]
                    failed[i] += row["failed"][i]
                mu = row.get("max_update_time")
                if mu is not None and (max_update is None or mu > max_update):
                    max_update = mu
        return {"passed": passed, "failed": failed, "total": total, "chunks": rows,
                "chunks_done": done_rows, "max_update_time": max_update}

    def record_failures(self, rows: list[dict]) -> None:
        if rows:
            self.failures.bulk_write([UpdateOne({"_id": r["_id"]}, {"$set": r}, upsert=True) for r in rows],
                                     ordered=False)

    def error_groups(self, run_id: str, *, limit: int | None, offset: int) -> tuple[list[dict], int]:
        """Failures grouped by step and message: count, last occurrence, a few sample keys."""
        limit = check_limit(limit)
        base = [{"$match": {"run_id": run_id}},
                {"$group": {"_id": {"step": "$step", "message": "$message"}, "count": {"$sum": 1},
                            "code": {"$last": "$code"}, "last_at": {"$max": "$at"},
                            "sample_keys": {"$push": "$source_key"}}}]
        total = next(iter(self.failures.aggregate(base + [{"$count": "n"}])), {"n": 0})["n"]
        rows = self.failures.aggregate(base + [{"$sort": {"count": DESCENDING, "_id.step": ASCENDING}},
                                               {"$skip": offset}, {"$limit": limit}])
        return [{"step": r["_id"]["step"], "message": r["_id"]["message"], "code": r.get("code"),
                 "count": r["count"], "last_occurrence": r["last_at"], "sample_keys": r["sample_keys"][:5]}
                for r in rows], total
