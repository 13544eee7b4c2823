"""Streaming pipelines: their definition, status, lease, resume token and counters, in one
document per pipeline; plus the key ledger of webhook targets (which cannot be asked what
they hold).

Concurrency rules, all enforced by conditional updates here:
- every status write goes through `transition` (filter `status ∈ allowed_from(...)`);
- a step runs only while it holds the lease: `claim` succeeds for the chain that already
  owns it, or for anyone once `lease_until` has passed, and only in the current `epoch`
  (START increments it, so chains of an earlier run can never claim again);
- progress (`save`) is written only by the lease owner of the current epoch.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument, UpdateOne

from shared.errors import NotFound
from shared.status import active, allowed_from, terminal
from shared.stores.base import ASCENDING, IndexModel, Store
from shared.stores.changefeed import delete_ids, ids_present
from shared.timeutil import utcnow

HISTORY_KEPT = 20
FAILURES_KEPT = 10
ACTIVE_STATUSES = active("streaming")
STOPPED_STATUSES = terminal("streaming")   # edits and deletes are allowed only when stopped
COUNTERS = ("snapshotRows", "changesCaptured", "applied", "failed")


def zero_counters() -> dict[str, int]:
    return {c: 0 for c in COUNTERS}


class StreamingStore(Store):
    collection_name = "streaming_pipelines"
    id_field = "streamingPipelineId"

    def __init__(self, db: Any):
        super().__init__(db)
        self.keys = db["streaming_keys"]

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
                IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)])]

    def ensure_indexes(self) -> None:
        super().ensure_indexes()
        self.keys.create_indexes([IndexModel([("pipeline_id", ASCENDING)])])

    def delete_in_namespace(self, namespace_id: str) -> int:
        self.keys.delete_many({"namespace_id": namespace_id})
        return super().delete_in_namespace(namespace_id)

    # -- definitions ------------------------------------------------------------------------
    def create(self, doc: dict) -> dict:
        self.coll.insert_one(doc)
        return doc

    def get(self, namespace_id: str, pipeline_id: str) -> dict:
        doc = self.coll.find_one({"_id": pipeline_id, "namespace_id": namespace_id})
        if doc is None:
            raise NotFound("streaming pipeline does not exist", code="streaming_pipeline_not_found",
                           details=[{"path": "streamingPipelineId",
                                     "message": f"no streaming pipeline '{pipeline_id}'"}])
        return doc

    def names_using_connection(self, namespace_id: str, connection_id: str) -> list[str]:
        return [d["definition"]["name"] for d in self.coll.find(
            {"namespace_id": namespace_id,
             "$or": [{"definition.streamingSource.connection.connectionId": connection_id},
                     {"definition.streamingTarget.connection.connectionId": connection_id}]},
            {"definition.name": 1})]

    def by_id(self, pipeline_id: str) -> dict | None:
        return self.coll.find_one({"_id": pipeline_id})

    def page(self, namespace_id: str, page: int, size: int) -> tuple[list[dict], int]:
        query = {"namespace_id": namespace_id}
        total = self.coll.count_documents(query)
        rows = self.coll.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return list(rows.skip(page * size).limit(size)), total

    def replace_definition(self, namespace_id: str, pipeline_id: str, fields: dict,
                           reset_position: bool) -> dict | None:
        """Apply a new definition, only while stopped (None otherwise). A changed source
        forgets the saved resume token: it belongs to another stream."""
        update: dict[str, Any] = {"$set": {**fields, "updated_at": utcnow()}}
        if reset_position:
            update["$set"].update({"resume_token": None, "snapshot": None})
        return self.coll.find_one_and_update(
            {"_id": pipeline_id, "namespace_id": namespace_id, "status": {"$in": STOPPED_STATUSES}},
            update, return_document=ReturnDocument.AFTER)

    def delete_stopped(self, namespace_id: str, pipeline_id: str) -> bool:
        res = self.coll.delete_one({"_id": pipeline_id, "namespace_id": namespace_id,
                                    "status": {"$in": STOPPED_STATUSES}})
        if res.deleted_count:
            self.keys.delete_many({"pipeline_id": pipeline_id})
        return res.deleted_count == 1

    # -- status -----------------------------------------------------------------------------
    def transition(self, pipeline_id: str, new: str, *, where: dict | None = None,
                   set_: dict | None = None, inc: dict | None = None) -> dict | None:
        """The guarded status write: only from `allowed_from("streaming", new)`, and only where
        `where` (e.g. the lease owner) still holds. Returns the document after, or None."""
        now = utcnow()
        update: dict[str, Any] = {
            "$set": {"status": new, "last_state_change": now, "updated_at": now, **(set_ or {})},
            "$push": {"history": {"$each": [{"status": new, "at": now}], "$slice": -HISTORY_KEPT}}}
        if inc:
            update["$inc"] = inc
        return self.coll.find_one_and_update(
            {"_id": pipeline_id, "status": {"$in": allowed_from("streaming", new)}, **(where or {})},
            update, return_document=ReturnDocument.AFTER)

    # -- lease and progress -----------------------------------------------------------------
    def claim(self, pipeline_id: str, epoch: int, chain: str, now: datetime, until: datetime) -> dict | None:
        return self.coll.find_one_and_update(
            {"_id": pipeline_id, "epoch": epoch, "status": {"$in": ACTIVE_STATUSES},
             "$or": [{"lease_owner": chain}, {"lease_owner": None}, {"lease_until": {"$lt": now}}]},
            {"$set": {"lease_owner": chain, "lease_until": until}, "$inc": {"step_seq": 1}},
            return_document=ReturnDocument.AFTER)

    def renew(self, pipeline_id: str, epoch: int, chain: str, until: datetime) -> bool:
        res = self.coll.update_one({"_id": pipeline_id, "epoch": epoch, "lease_owner": chain},
                                   {"$set": {"lease_until": until}})
        return res.matched_count == 1

    def save(self, pipeline_id: str, epoch: int, chain: str, fields: dict, counters: dict | None = None,
             failures: list[dict] | None = None) -> bool:
        """Progress of one step (resume token, snapshot position, counters, heartbeat), written
        atomically and only by the lease owner of the current epoch."""
        update: dict[str, Any] = {"$set": {**fields, "heartbeat_at": utcnow()}}
        inc = {f"counters.{k}": v for k, v in (counters or {}).items() if v}
        if inc:
            update["$inc"] = inc
        if failures:
            update["$push"] = {"recent_failures": {"$each": failures[-FAILURES_KEPT:], "$slice": -FAILURES_KEPT}}
        res = self.coll.update_one({"_id": pipeline_id, "epoch": epoch, "lease_owner": chain}, update)
        return res.matched_count == 1

    def note_error(self, pipeline_id: str, epoch: int, chain: str, message: str,
                   until: datetime) -> dict | None:
        """One more infrastructure error of the owning chain (which keeps its lease while it
        backs off); None when the chain no longer owns the pipeline."""
        return self.coll.find_one_and_update(
            {"_id": pipeline_id, "epoch": epoch, "lease_owner": chain},
            {"$inc": {"errors_in_row": 1},
             "$set": {"last_infra_error": message, "lease_until": until, "heartbeat_at": utcnow()}},
            return_document=ReturnDocument.AFTER)

    def metrics_rows(self) -> list[dict]:
        """Per pipeline: id, namespace, name, status and lag, for /metrics."""
        return list(self.coll.find({}, {"namespace_id": 1, "status": 1, "lag_seconds": 1,
                                        "definition.name": 1}))

    def stalled(self, now: datetime, heartbeat_before: datetime) -> list[dict]:
        """Active pipelines with no heartbeat since `heartbeat_before` and no live lease."""
        return list(self.coll.find({"status": {"$in": ACTIVE_STATUSES},
                                    "heartbeat_at": {"$lt": heartbeat_before},
                                    "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]}))

    def relaunch(self, doc: dict, chain: str, now: datetime, until: datetime) -> bool:
        """Compare-and-set a new chain over the lease the watchdog saw, so two watchdogs never
        both relaunch."""
        res = self.coll.update_one(
            {"_id": doc["_id"], "epoch": doc["epoch"], "lease_owner": doc.get("lease_owner"),
             "lease_until": doc.get("lease_until"), "status": {"$in": ACTIVE_STATUSES}},
            {"$set": {"lease_owner": chain, "lease_until": until, "heartbeat_at": now},
             "$inc": {"recoveries": 1}})
        return res.modified_count == 1

    # -- key ledger (targets that cannot be asked which keys they hold) ---------------------
    def ledger_add(self, pipeline_id: str, namespace_id: str, keys: list[str]) -> None:
        if keys:
            self.keys.bulk_write([UpdateOne({"_id": f"{pipeline_id}|{k}"},
                                            {"$setOnInsert": {"pipeline_id": pipeline_id,
                                                              "namespace_id": namespace_id}},
                                            upsert=True) for k in keys], ordered=False)

    def ledger_present(self, pipeline_id: str, keys: list[str]) -> set[str]:
        found = ids_present(self.keys, [f"{pipeline_id}|{k}" for k in keys])
        return {f.split("|", 1)[1] for f in found}

    def ledger_remove(self, pipeline_id: str, keys: list[str]) -> None:
        delete_ids(self.keys, [f"{pipeline_id}|{k}" for k in keys])

    def ledger_clear(self, pipeline_id: str) -> None:
        self.keys.delete_many({"pipeline_id": pipeline_id})


def documents_present(documents: Any, collection_id: str, ids: list[str]) -> set[str]:
    """Which document ids exist in a Sluice collection (the collection target's `existing`)."""
    return ids_present(documents.coll, ids, {"collection_id": collection_id})


def documents_delete(documents: Any, collection_id: str, ids: list[str]) -> int:
    return delete_ids(documents.coll, ids, {"collection_id": collection_id})
