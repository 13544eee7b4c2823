"""Batches, their chunks and their per-record failures.

Progress is derived from chunk rows: a chunk row is marked done exactly once (conditional
update), so a redelivered chunk can never count twice, and tier counters are the sum of
their chunk rows — live while the tier runs."""
from __future__ import annotations

from typing import Any, Iterable

import bson
from pymongo import ReturnDocument, UpdateOne

from shared.causes import cause_of, with_cause
from shared.errors import NotFound
from shared.status import BatchStatus, allowed_from, finished_all
from shared.stores.base import ASCENDING, HeartbeatStore, IndexModel
from shared.stores.ledger import ChunkLedger
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow

COUNTERS = ("fetched", "after_filter", "processed", "written", "failed")


class BatchStore(HeartbeatStore):
    collection_name = "batches"
    id_field = "batch_id"

    def __init__(self, db: Any):
        super().__init__(db)
        self.ledger = ChunkLedger(db["batch_chunks"], "batch_id")
        self.chunks = self.ledger.coll
        self.failures = db["batch_failures"]

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
                # Lists of one collection's batches, newest first, without scanning the others.
                IndexModel([("namespace_id", ASCENDING), ("collection_id", ASCENDING), ("created_at", ASCENDING),
                            ("_id", ASCENDING)]),
                # A namespace's oldest batch waiting to start, read whenever one of its batches ends.
                IndexModel([("namespace_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING),
                            ("_id", ASCENDING)]),
                IndexModel([("task_id", ASCENDING)], unique=True),
                IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)])]

    def ensure_indexes(self) -> None:
        super().ensure_indexes()
        self.ledger.ensure_indexes()
        self.failures.create_indexes([
            IndexModel([("batch_id", ASCENDING), ("tier_num", ASCENDING), ("_id", ASCENDING)])])

    def delete_in_namespace(self, namespace_id: str) -> int:
        ids = [d["_id"] for d in self.coll.find({"namespace_id": namespace_id}, {"_id": 1})]
        self.ledger.delete(ids)
        self.failures.delete_many({"batch_id": {"$in": ids}})
        return super().delete_in_namespace(namespace_id)

    # -- batch rows -------------------------------------------------------------------------
    def create(self, doc: dict) -> dict:
        self.coll.insert_one(doc)
        return doc

    def get(self, batch_id: str, namespace_id: str | None = None, for_view: bool = False) -> dict:
        """`for_view`: without the tiers' launch records, which only chunks read (a status
        poll need not fetch and decode each tier's query, object_ids and all)."""
        q: dict[str, Any] = {"_id": batch_id}
        if namespace_id is not None:
            q["namespace_id"] = namespace_id
        doc = self.coll.find_one(q, {"tiers.launch": 0} if for_view else None)
        if doc is None:
            raise NotFound(f"batch '{batch_id}' does not exist", code="batch_not_found")
        return doc

    def by_task_id(self, task_id: str, namespace_id: str) -> dict | None:
        return self.coll.find_one({"task_id": task_id, "namespace_id": namespace_id})

    def transition(self, batch_id: str, new: str, extra: dict | None = None,
                   unset: Iterable[str] = ()) -> dict | None:
        """Guarded status write; None when the batch is not in a state that may move to `new`."""
        update: dict[str, Any] = {"$set": {"status": new, "updated_at": utcnow(), **(extra or {})}}
        if unset:
            update["$unset"] = {k: "" for k in unset}
        return self.coll.find_one_and_update(
            {"_id": batch_id, "status": {"$in": allowed_from("batch", new)}}, update,
            return_document=ReturnDocument.AFTER)

    def set_fields(self, batch_id: str, fields: dict, *, when: dict | None = None) -> dict | None:
        return self.coll.find_one_and_update({"_id": batch_id, **(when or {})},
                                             {"$set": {**fields, "updated_at": utcnow()}},
                                             return_document=ReturnDocument.AFTER)

    def active(self) -> list[dict]:
        """Batches not finished yet (the recovery sweep looks at each)."""
        return list(self.coll.find({"status": {"$in": ["PENDING", "PROCESSING"]}}))

    def stalled(self, older_than: Any, statuses: list[str]) -> list[dict]:
        return list(self.coll.find({"status": {"$in": statuses}, "heartbeat_at": {"$lt": older_than}}))

    @staticmethod
    def list_query(namespace_id: str, statuses: list[str] | None = None, collection_id: str | None = None) -> dict:
        q: dict[str, Any] = {"namespace_id": namespace_id}
        if statuses:
            q["status"] = {"$in": list(statuses)}
        if collection_id:
            q["collection_id"] = collection_id
        return q

    def list(self, namespace_id: str, *, statuses: list[str] | None = None, collection_id: str | None = None,
             limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, self.list_query(namespace_id, statuses, collection_id), limit=limit,
                        cursor=cursor)

    def discard(self, batch_id: str) -> None:
        """Remove a batch that was never enqueued (an Idempotency-Key named an earlier one)."""
        self.coll.delete_one({"_id": batch_id, "status": BatchStatus.PENDING.value})

    # -- what a tier's launch computed for its chunks -----------------------------------------
    # A query holds `$` operator names and datetimes; `$` field names are refused inside an
    # update, so the record is kept as one BSON blob in the tier's entry (encoded and decoded
    # only here; BSON keeps every type the query can hold, and is quick to decode per chunk).
    @staticmethod
    def launch_fields(tier_num: int, record: dict) -> dict:
        """Fields for `set_fields` that record a tier's launch (replacing an earlier one)."""
        return {f"tiers.{tier_num}.launch": bson.encode(record)}

    @staticmethod
    def launched_queries(batch: dict, tier_num: int) -> dict | None:
        """The record of the tier's last launch; None for a batch launched before launches
        were recorded (its tier entries have no `launch`)."""
        blob = batch["tiers"][tier_num].get("launch")
        return None if blob is None else bson.decode(bytes(blob))

    # -- chunks ---------------------------------------------------------------------------
    @staticmethod
    def chunk_id(batch_id: str, attempt: int, tier_num: int, collection_id: str, index: int) -> str:
        return f"{batch_id}:{attempt}:{tier_num}:{collection_id}:{index}"

    def add_chunks(self, rows: list[dict]) -> None:
        self.ledger.add(rows)

    def chunk(self, chunk_id: str) -> dict | None:
        return self.ledger.get(chunk_id)

    def complete_chunk(self, chunk_id: str, counts: dict[str, int], errors_by_code: dict[str, int],
                       duration_ms: int, worker: str | None = None, chunk: dict | None = None) -> bool:
        """Only the execution that read the chunk's current range may complete it: one that
        read [lo, hi) must not count records a split has handed to a continuation since."""
        return self.ledger.complete(chunk_id, {"counts": counts, "errors_by_code": errors_by_code,
                                               "duration_ms": duration_ms, "worker": worker},
                                    when=self.ledger.same_split(chunk or {}))

    CHUNK_FIELDS = ("attempt", "tier_num", "collection_id", "index", "only_ids")

    def split_chunk(self, chunk: dict, split_id: str, done_size: int) -> dict | None:
        return self.ledger.split(chunk, split_id, done_size, self.CHUNK_FIELDS)

    def ensure_continuations(self, chunk: dict) -> list[str]:
        return self.ledger.ensure_continuations(chunk, self.CHUNK_FIELDS)

    def pending_chunks(self, batch_id: str, attempt: int, tier_num: int) -> list[dict]:
        return self.ledger.pending(batch_id, attempt=attempt, tier_num=tier_num)

    def tier_stats(self, batch_id: str) -> dict[int, dict]:
        """Per tier: summed counters, errors by code, chunk totals. Summed inside MongoDB, in
        one round trip: every GET of a running batch asks for this, and a large batch has
        thousands of chunk rows."""
        done = lambda expr: {"$cond": [{"$eq": ["$done", True]}, expr, 0]}   # noqa: E731
        facets = next(self.chunks.aggregate([
            {"$match": {"batch_id": batch_id}},
            {"$facet": {
                "tiers": [{"$group": {
                    "_id": "$tier_num", "chunks_total": {"$sum": 1}, "chunks_done": {"$sum": done(1)},
                    "total": {"$sum": {"$cond": [{"$eq": ["$superseded", True]}, 0, {"$ifNull": ["$size", 0]}]}},
                    "retried": {"$sum": {"$ifNull": ["$retried", 0]}},
                    **{k: {"$sum": done({"$ifNull": [f"$counts.{k}", 0]})} for k in COUNTERS}}}],
                "errors": [
                    {"$match": {"done": True, "counts.failed": {"$gt": 0}}},
                    {"$project": {"tier_num": 1, "e": {"$objectToArray": "$errors_by_code"}}},
                    {"$unwind": "$e"},
                    {"$group": {"_id": {"tier": "$tier_num", "code": "$e.k"}, "n": {"$sum": "$e.v"}}}]}}]))
        out: dict[int, dict] = {}
        for r in facets["tiers"]:
            out[r["_id"]] = {"counts": {k: r[k] for k in COUNTERS}, "errors_by_code": {},
                             "chunks_total": r["chunks_total"], "chunks_done": r["chunks_done"],
                             "total": r["total"], "retried": r["retried"]}
        for r in facets["errors"]:
            if r["_id"]["tier"] in out:
                out[r["_id"]["tier"]]["errors_by_code"][r["_id"]["code"]] = r["n"]
        for tier, causes in self.failure_causes(batch_id).items():
            if tier in out:
                out[tier]["failed_by_cause"] = causes
        return out

    def failure_causes(self, batch_id: str) -> dict[int, dict[str, int]]:
        """Per tier: failure records by cause (rows stored before `cause` existed are
        classified by their code)."""
        out: dict[int, dict[str, int]] = {}
        for r in self.failures.aggregate([
                {"$match": {"batch_id": batch_id}},
                {"$group": {"_id": {"tier": "$tier_num", "cause": "$cause", "code": "$code"}, "n": {"$sum": 1}}}]):
            key = r["_id"]
            cause = key.get("cause") or cause_of(key.get("code"))
            tier = out.setdefault(key["tier"], {})
            tier[cause] = tier.get(cause, 0) + r["n"]
        return out

    def failures_of(self, batch_id: str, *, tier_num: int | None = None, cause: str | None = None,
                    limit: int = 0) -> list[dict]:
        q: dict[str, Any] = {"batch_id": batch_id}
        if tier_num is not None:
            q["tier_num"] = tier_num
        rows = (with_cause(r) for r in self.failures.find(q).sort("_id", ASCENDING).limit(limit))
        return [r for r in rows if cause is None or r["cause"] == cause]

    def sample_failure(self, batch_id: str, code: str) -> dict | None:
        row = self.failures.find_one({"batch_id": batch_id, "code": code}, sort=[("_id", ASCENDING)])
        return None if row is None else with_cause(row)

    def supersede_failure_rows(self, rows: list[dict]) -> None:
        """Before a retry of just these failures: their chunk rows stop counting them (the
        retry's own chunks count what happens now), and the rows go."""
        per_chunk: dict[str, dict[str, int]] = {}
        for r in rows:
            codes = per_chunk.setdefault(r.get("chunk_id") or "", {})
            codes[r["code"]] = codes.get(r["code"], 0) + 1
        for chunk_id, codes in per_chunk.items():
            n = sum(codes.values())
            if chunk_id:
                self.chunks.update_one({"_id": chunk_id, "done": True}, {"$inc": {
                    "counts.failed": -n, "counts.fetched": -n, "counts.after_filter": -n, "retried": n,
                    **{f"errors_by_code.{c}": -k for c, k in codes.items()}}})
        if rows:
            self.failures.delete_many({"_id": {"$in": [r["_id"] for r in rows]}})

    def give_up_chunk(self, chunk: dict, sources: list[dict], failure: dict) -> bool:
        """A chunk a worker could not process (store down, time limit): each of its records
        without a failure of its own becomes a `failure`-shaped infrastructure failure, and the
        chunk is done (False: it was done already)."""
        prefix = f"{chunk['batch_id']}:{chunk['tier_num']}:{chunk['collection_id']}:"
        source_ids = [r["_id"] for r in sources]
        known = {r["source_id"]: r["code"] for r in self.failures.find(
            {"_id": {"$in": [prefix + s for s in source_ids]}}, {"source_id": 1, "code": 1})}
        rows = [{**failure, "_id": prefix + r["_id"], "batch_id": chunk["batch_id"], "tier_num": chunk["tier_num"],
                 "collection_id": chunk["collection_id"], "source_id": r["_id"],
                 "root_object_id": r.get("root_object_id", r["_id"]), "chunk_id": chunk["_id"]}
                for r in sources if r["_id"] not in known]
        self.record_failures(rows)
        codes: dict[str, int] = {}
        for code in [*known.values(), *(r["code"] for r in rows)]:
            codes[code] = codes.get(code, 0) + 1
        n = len(source_ids)
        counts = {"fetched": n, "after_filter": n, "processed": 0, "written": 0, "failed": n}
        return self.complete_chunk(chunk["_id"], counts, codes, 0, chunk=chunk)

    @staticmethod
    def final_stats(attempt: int, stats: dict[int, dict]) -> dict:
        """The tier stats of an attempt that completed, to store in the batch row: once every
        chunk is done they cannot change, so polls of a finished batch need no aggregation."""
        return {"attempt": attempt, "tiers": {str(tier): s for tier, s in stats.items()}}

    def stats_of(self, batch: dict) -> dict[int, dict]:
        """Tier stats for rendering `batch`: the stored final stats of a completed attempt
        (a retry raises the attempt, so they no longer apply), else summed from chunk rows."""
        final = batch.get("final_stats")
        if final and final.get("attempt") == batch.get("attempt", 1) \
                and finished_all("batch", batch.get("status", "")):
            return {int(tier): s for tier, s in final["tiers"].items()}
        return self.tier_stats(batch["_id"])

    def supersede_failures(self, batch_id: str, tier_nums: list[int]) -> None:
        """Before a failed-only retry: failures of these tiers stop counting; the retry's own
        chunks count what happens to those records now."""
        for row in self.chunks.find({"batch_id": batch_id, "tier_num": {"$in": tier_nums}, "done": True}):
            failed = row.get("counts", {}).get("failed", 0)
            if failed:
                self.chunks.update_one({"_id": row["_id"]}, {
                    "$set": {"counts.failed": 0, "errors_by_code": {}},
                    "$inc": {"retried": failed, "counts.fetched": -failed, "counts.after_filter": -failed}})

    def drop_tiers(self, batch_id: str, tier_nums: list[int]) -> None:
        self.chunks.delete_many({"batch_id": batch_id, "tier_num": {"$in": tier_nums}})
        self.failures.delete_many({"batch_id": batch_id, "tier_num": {"$in": tier_nums}})

    # -- failures -------------------------------------------------------------------------
    def record_failures(self, rows: list[dict]) -> None:
        if rows:
            self.failures.bulk_write([UpdateOne({"_id": r["_id"]}, {"$set": r}, upsert=True) for r in rows],
                                     ordered=False)

    def clear_failures(self, batch_id: str, tier_nums: list[int]) -> None:
        self.failures.delete_many({"batch_id": batch_id, "tier_num": {"$in": tier_nums}})

    def failed_source_ids(self, batch_id: str, tier_num: int, collection_id: str) -> list[str]:
        return [r["source_id"] for r in self.failures.find(
            {"batch_id": batch_id, "tier_num": tier_num, "collection_id": collection_id}, {"source_id": 1})]

    def failures_page(self, batch_id: str, *, limit: int | None, cursor: str | None) -> Page:
        return paginate(self.failures, {"batch_id": batch_id}, limit=limit, cursor=cursor,
                        sort_field="_id", descending=False,
                        render=lambda r: {k: v for k, v in with_cause(r).items()
                                          if k not in ("_id", "batch_id", "chunk_id")})
