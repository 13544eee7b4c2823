"""Worker liveness rows: one per worker process, beaten every few seconds in MongoDB server
time (so hosts with skewed clocks judge each other fairly), plus the short lease that lets
one worker at a time run the recovery sweep."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.stores.base import Store


class WorkerStore(Store):
    collection_name = "workers"
    namespaced = False

    def __init__(self, db: Any):
        super().__init__(db)
        self.leases = db["worker_leases"]

    def beat(self, worker: str, info: dict) -> datetime:
        """Record that `worker` is alive; returns the server's time of this beat."""
        doc = self.coll.find_one_and_update(
            {"_id": worker}, {"$set": info, "$currentDate": {"beat_at": True}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return doc["beat_at"]

    def beats(self) -> dict[str, datetime]:
        return {d["_id"]: d["beat_at"] for d in self.coll.find({}, {"beat_at": 1})}

    def forget(self, worker: str, older_than: datetime) -> None:
        """Drop the row of a worker judged dead (a partitioned worker that comes back simply
        beats again and starts a new row)."""
        self.coll.delete_one({"_id": worker, "beat_at": {"$lt": older_than}})

    def gone(self, worker: str) -> None:
        """A worker shutting down cleanly says so, so nobody waits to judge it."""
        self.coll.delete_one({"_id": worker})

    def claim_sweep(self, worker: str, now: datetime, seconds: float) -> bool:
        """One sweeper at a time: the lease passes to whoever asks after it expires."""
        until = now + timedelta(seconds=seconds)
        try:
            got = self.leases.find_one_and_update(
                {"_id": "recovery", "$or": [{"until": {"$lt": now}}, {"holder": worker}]},
                {"$set": {"until": until, "holder": worker}}, upsert=True)
        except DuplicateKeyError:  # someone else holds an unexpired lease
            return False
        return got is not None or self.leases.find_one({"_id": "recovery", "holder": worker}) is not None

    def store_started_at(self) -> datetime | None:
        """When the MongoDB server we talk to started: its topology process id is an ObjectId
        made at startup (MongoDB 4.4+); None when the server does not say."""
        try:
            hello = self.db.client.admin.command("hello")
        except Exception:  # noqa: BLE001 - unknown start time only disables that one guard
            return None
        pid = (hello.get("topologyVersion") or {}).get("processId")
        return pid.generation_time.replace(tzinfo=None) if pid is not None else None
