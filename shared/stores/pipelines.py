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

    def note_run_outcome(self, pipeline_id: str, failed: bool) -> dict | None:
        """Count a FAILED run into the streak of consecutive failed runs, or reset it."""
        update = {"$inc": {"failure_streak": 1}} if failed else {"$set": {"failure_streak": 0}}
        return self.coll.find_one_and_update({"_id": pipeline_id}, update, return_document=ReturnDocument.AFTER)

    def disable(self, pipeline_id: str, reason: str, when: datetime) -> None:
        self.coll.update_one({"_id": pipeline_id}, {"$set": {"enabled": False, "disabled_reason": reason,
                                                             "disabled_at": when, "updated_at": when}})

    # -- backfill -------------------------------------------------------------------------------
    def set_backfill(self, pipeline_id: str, plan: dict, *, clear_skipped: bool) -> None:
        fields: dict[str, Any] = {"backfill": plan}
        if clear_skipped:
            fields["skipped"] = []
        self.coll.update_one({"_id": pipeline_id}, {"$set": fields})

    def claim_backfill_window(self, pipeline_id: str, index: int) -> bool:
        res = self.coll.update_one({"_id": pipeline_id, "backfill.status": "running", "backfill.next": index},
                                   {"$set": {"backfill.next": index + 1}})
        return res.modified_count == 1

    def add_backfill_run(self, pipeline_id: str, run_id: str) -> None:
        self.coll.update_one({"_id": pipeline_id}, {"$push": {"backfill.runs": run_id}})

    def end_backfill(self, pipeline_id: str, index: int, status: str, error: str | None) -> None:
        self.coll.update_one({"_id": pipeline_id, "backfill.status": "running"},
                             {"$set": {"backfill.status": status, "backfill.next": index,
                                       "backfill.error": error, "backfill.ended_at": utcnow()}})

    def idle_backfills(self, limit: int = 100) -> list[str]:
        return [d["_id"] for d in self.coll.find({"backfill.status": "running", "active_run_id": None},
                                                 {"_id": 1}).limit(limit)]

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
