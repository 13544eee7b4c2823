"""What the fair scheduler knows: the active jobs (batches and runs), the chunks each
namespace holds now (leases that expire, so a dead worker's slot frees itself), and the
chunks parked in MongoDB instead of the broker (paused jobs, namespaces at their cap).

A lease is taken with one conditional update of the namespace's row, so a namespace's
`max_concurrent_chunks` holds exactly across every worker process."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.stores.base import ASCENDING, IndexModel, Store
from shared.stores.ledger import ChunkLedger
from shared.timeutil import utcnow


class SchedulerStore(Store):
    collection_name = "sched_jobs"
    namespaced = False   # bookkeeping, not a tenant's resource: never blocks deleting a namespace

    def __init__(self, db: Any, ledgers: dict[str, ChunkLedger]):
        super().__init__(db)
        self.slots = db["sched_namespaces"]
        self.state = db["sched_state"]
        self.ledgers = ledgers          # kind ("batch" | "run") -> its chunk ledger
        # Read-only here: the rows of the jobs themselves (owned by BatchStore and RunStore).
        self.owners = {"batch": db["batches"], "run": db["runs"]}

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING)])]

    def delete_in_namespace(self, namespace_id: str) -> int:
        self.slots.delete_one({"_id": namespace_id})
        return self.coll.delete_many({"namespace_id": namespace_id}).deleted_count

    # -- jobs -----------------------------------------------------------------------------
    def active(self, statuses: dict[str, list[str]]) -> list[dict]:
        """Active batches and runs (kind -> statuses that count as active), each with its
        kind, namespace, priority, status and when it last started a chunk."""
        out = []
        for kind, rows in self.owners.items():
            for d in rows.find({"status": {"$in": statuses[kind]}},
                               {"namespace_id": 1, "priority": 1, "status": 1, "started_at": 1, "startTime": 1}):
                out.append({**d, "kind": kind})
        idle = {d["_id"]: d["idle_since"] for d in self.coll.find({"_id": {"$in": [d["_id"] for d in out]}})}
        for d in out:
            d["idle_since"] = idle.get(d["_id"]) or d.get("started_at") or d.get("startTime")
        return out

    def forget_except(self, job_ids: list[str]) -> None:
        """Drop the bookkeeping of jobs that are no longer active."""
        self.coll.delete_many({"_id": {"$nin": job_ids}})

    def waiting(self, kind: str, job_id: str) -> int:
        """Chunks of the job neither done nor parked (enqueued or running)."""
        ledger = self.ledgers[kind]
        return ledger.coll.count_documents({ledger.owner_field: job_id, "done": False,
                                            "parked": {"$ne": True}})

    def oldest_waiting(self, kind: str, job_id: str, running: list[str]) -> Any:
        """When the job's oldest chunk still waiting in the broker was planned (not done,
        not parked, not one of the `running` chunk ids); None when none waits."""
        ledger = self.ledgers[kind]
        row = ledger.coll.find_one({ledger.owner_field: job_id, "done": False, "parked": {"$ne": True},
                                    "_id": {"$nin": running}}, {"created_at": 1},
                                   sort=[("created_at", ASCENDING)])
        return row.get("created_at") if row else None

    def generation(self) -> int:
        """Bumped whenever jobs start, pause or resume: a cached view older than it is stale."""
        doc = self.state.find_one({"_id": "generation"})
        return doc["n"] if doc else 0

    def bump(self) -> None:
        self.state.update_one({"_id": "generation"}, {"$inc": {"n": 1}}, upsert=True)

    # -- slots ----------------------------------------------------------------------------
    def namespaces(self) -> list[dict]:
        """Every namespace's live leases (expired ones filtered out)."""
        now = utcnow()
        return [{**d, "leases": [x for x in d.get("leases") or [] if x["until"] > now]}
                for d in self.slots.find({})]

    def acquire(self, namespace_id: str, job_id: str, chunk_id: str, limit: int | None, ttl_s: float) -> bool:
        """Take a slot for `chunk_id` unless the namespace holds `limit` live leases. Expired
        leases are dropped in the same update."""
        now = utcnow()
        cap = 1 << 30 if limit is None else limit
        live = {"$filter": {"input": {"$ifNull": ["$leases", []]},
                            "cond": {"$and": [{"$gt": ["$$this.until", now]}, {"$ne": ["$$this.id", chunk_id]}]}}}
        lease = {"id": chunk_id, "job": job_id, "until": now + timedelta(seconds=ttl_s)}
        doc = self.slots.find_one_and_update({"_id": namespace_id}, [
            {"$set": {"leases": live}},
            {"$set": {"leases": {"$cond": [{"$lt": [{"$size": "$leases"}, cap]},
                                           {"$concatArrays": ["$leases", [lease]]}, "$leases"]}}}],
            upsert=True, return_document=ReturnDocument.AFTER)
        taken = any(x["id"] == chunk_id for x in doc.get("leases") or [])
        if taken:
            self.coll.update_one({"_id": job_id}, {"$set": {"idle_since": now, "namespace_id": namespace_id}},
                                 upsert=True)
        return taken

    def release(self, namespace_id: str, chunk_id: str) -> None:
        self.slots.update_one({"_id": namespace_id}, {"$pull": {"leases": {"id": chunk_id}}})

    def lanes(self) -> dict[str, int]:
        """namespace -> the lane its chunks were last sent to."""
        return {d["_id"]: d["lane"] for d in self.slots.find({"lane": {"$exists": True}}, {"lane": 1})}

    def set_lane(self, namespace_id: str, lane: int) -> None:
        self.slots.update_one({"_id": namespace_id}, {"$set": {"lane": lane}}, upsert=True)

    # -- parking --------------------------------------------------------------------------
    def park(self, kind: str, chunk_id: str) -> bool:
        ledger = self.ledgers[kind]
        res = ledger.coll.update_one({"_id": chunk_id, "done": False}, {"$set": {"parked": True}})
        return res.modified_count == 1

    def unpark(self, kind: str, chunk_id: str) -> bool:
        """Claim a parked chunk for sending again; True for exactly one caller."""
        ledger = self.ledgers[kind]
        res = ledger.coll.update_one({"_id": chunk_id, "parked": True}, {"$set": {"parked": False}})
        return res.modified_count == 1

    def parked(self, kind: str, job_id: str, limit: int = 0) -> list[str]:
        ledger = self.ledgers[kind]
        rows = ledger.coll.find({ledger.owner_field: job_id, "done": False, "parked": True}, {"_id": 1},
                                limit=limit).sort("_id", ASCENDING)
        return [r["_id"] for r in rows]

    # -- active-batch caps ----------------------------------------------------------------
    def batches_in(self, namespace_id: str, statuses: list[str]) -> int:
        return self.owners["batch"].count_documents({"namespace_id": namespace_id, "status": {"$in": statuses}})

    def oldest_pending(self, namespace_id: str, pending: str) -> dict | None:
        """The namespace's longest-waiting batch not started yet: one held back by its
        max_active_batches, or one whose start message is still on its way (starting it
        here keeps "oldest first" whichever start message a worker takes first)."""
        return self.owners["batch"].find_one({"namespace_id": namespace_id, "status": pending},
                                             sort=[("created_at", ASCENDING), ("_id", ASCENDING)])

    def lock(self, namespace_id: str, ttl_s: float) -> bool:
        """A short per-namespace mutex (expires by itself) so two starts never both take the last place."""
        now = utcnow()
        try:
            self.slots.find_one_and_update(
                {"_id": namespace_id, "$or": [{"lock_until": {"$exists": False}}, {"lock_until": {"$lt": now}}]},
                {"$set": {"lock_until": now + timedelta(seconds=ttl_s)}}, upsert=True)
        except DuplicateKeyError:
            return False           # the row exists and is locked
        return True

    def unlock(self, namespace_id: str) -> None:
        self.slots.update_one({"_id": namespace_id}, {"$unset": {"lock_until": ""}})
