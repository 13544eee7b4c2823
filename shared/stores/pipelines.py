"""Pipelines. A pipeline holds at most one active run (an atomic claim on `active_run_id`),
and its schedule is claimed occurrence by occurrence with a compare-and-set on
`schedule.next_run_at`, so two schedulers never fire the same occurrence."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from shared.errors import NotFound
from shared.stores.base import ASCENDING, IndexModel, Store
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow

MAX_SKIPS_KEPT = 20


class PipelineStore(Store):
    collection_name = "pipelines"
    id_field = "pipeline_id"

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
                IndexModel([("schedule.next_run_at", ASCENDING)], sparse=True),
                IndexModel([("namespace_id", ASCENDING), ("source.connection_id", ASCENDING)]),
                IndexModel([("namespace_id", ASCENDING), ("destination.connection_id", ASCENDING)])]

    def create(self, doc: dict) -> dict:
        self.coll.insert_one(doc)
        return doc

    def get(self, namespace_id: str, pipeline_id: str) -> dict:
        doc = self.coll.find_one({"_id": pipeline_id, "namespace_id": namespace_id})
        if doc is None:
            raise NotFound("pipeline does not exist", code="pipeline_not_found",
                           details=[{"path": "id", "message": f"no pipeline '{pipeline_id}'"}])
        return doc

    def by_id(self, pipeline_id: str) -> dict | None:
        return self.coll.find_one({"_id": pipeline_id})

    def list(self, namespace_id: str, *, limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, {"namespace_id": namespace_id}, limit=limit, cursor=cursor)

    def update(self, namespace_id: str, pipeline_id: str, changes: dict, *, idle_only: bool = False) -> dict | None:
        """Apply changes; with idle_only, only while no run is active (None otherwise)."""
        query: dict[str, Any] = {"_id": pipeline_id, "namespace_id": namespace_id}
        if idle_only:
            query["active_run_id"] = None
        return self.coll.find_one_and_update(query, {"$set": {**changes, "updated_at": utcnow()}},
                                             return_document=ReturnDocument.AFTER)

    def delete(self, namespace_id: str, pipeline_id: str) -> None:
        self.coll.delete_one({"_id": pipeline_id, "namespace_id": namespace_id})

    def names_using_connection(self, namespace_id: str, connection_id: str) -> list[str]:
        return [d.get("alias") or d["_id"] for d in self.coll.find(
            {"namespace_id": namespace_id, "$or": [{"source.connection_id": connection_id},
                                                   {"destination.connection_id": connection_id}]},
            {"alias": 1})]

    # -- runs and cursors ---------------------------------------------------------------------
    def claim_run(self, pipeline_id: str, run_id: str) -> dict | None:
        return self.coll.find_one_and_update({"_id": pipeline_id, "active_run_id": None},
                                             {"$set": {"active_run_id": run_id}},
                                             return_document=ReturnDocument.AFTER)

    def release_run(self, pipeline_id: str, run_id: str, last_run: dict, cursor: Any = None) -> None:
        update: dict[str, Any] = {"active_run_id": None, "last_run": last_run}
        if cursor is not None:
            update["cursor"] = cursor
        self.coll.update_one({"_id": pipeline_id, "active_run_id": run_id}, {"$set": update})

    # -- schedule -----------------------------------------------------------------------------
    def due(self, now: datetime, limit: int = 100) -> list[dict]:
        return list(self.coll.find({"schedule.next_run_at": {"$lte": now}}).limit(limit))

    def claim_occurrence(self, pipeline_id: str, scheduled: datetime, next_run_at: datetime) -> bool:
        """Compare-and-set: only the scheduler that still sees `scheduled` moves it on."""
        res = self.coll.update_one({"_id": pipeline_id, "schedule.next_run_at": scheduled},
                                   {"$set": {"schedule.next_run_at": next_run_at,
                                             "schedule.last_fired_at": scheduled}})
        return res.modified_count == 1

    def record_skip(self, pipeline_id: str, occurrence: datetime, reason: str) -> None:
        self.coll.update_one({"_id": pipeline_id}, {"$push": {"skipped": {
            "$each": [{"scheduled_at": occurrence, "reason": reason, "recorded_at": utcnow()}],
            "$slice": -MAX_SKIPS_KEPT}}})
