"""Base for stores: each store owns one Mongo collection, its document shape and indexes."""
from __future__ import annotations

import time
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from shared.errors import NotFound
from shared.ids import looks_like
from shared.stores.paging import paginate
from shared.stores.scan import id_boundaries, range_query
from shared.timeutil import utcnow

__all__ = ["Store", "IndexModel", "ASCENDING", "DESCENDING"]


class Store:
    collection_name: str = ""
    id_field: str = "id"
    # Namespaced stores are counted/deleted with their namespace.
    namespaced: bool = True

    def __init__(self, db: Any):
        self.db = db
        self.coll = db[self.collection_name]

    def indexes(self) -> list[IndexModel]:
        return []

    def ensure_indexes(self) -> None:
        models = self.indexes()
        if models:
            self.coll.create_indexes(models)

    def count_in_namespace(self, namespace_id: str) -> int:
        return self.coll.count_documents({"namespace_id": namespace_id}, limit=1) if self.namespaced else 0

    def namespace_of(self, value: str, field: str = "_id") -> str | None:
        """The namespace of the row whose `field` is `value` (None: no such row)."""
        doc = self.coll.find_one({field: value}, {"namespace_id": 1})
        return doc.get("namespace_id") if doc else None

    def total_in_namespace(self, namespace_id: str) -> int:
        return self.coll.count_documents({"namespace_id": namespace_id}) if self.namespaced else 0

    def count_by_status(self, namespace_id: str | None = None, since: Any = None) -> dict[str, int]:
        """Rows per status (of one namespace, created since `since`), for /metrics and the console."""
        match: dict[str, Any] = {}
        if namespace_id is not None:
            match["namespace_id"] = namespace_id
        if since is not None:
            match["created_at"] = {"$gte": since}
        pipeline = ([{"$match": match}] if match else []) + [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        return {r["_id"]: r["n"] for r in self.coll.aggregate(pipeline)}

    def delete_in_namespace(self, namespace_id: str) -> int:
        if not self.namespaced:
            return 0
        return self.coll.delete_many({"namespace_id": namespace_id}).deleted_count

    def render(self, doc: dict) -> dict:
        """The API shape of a stored row: `_id` becomes the resource's id field."""
        out = {k: v for k, v in doc.items() if k != "_id"}
        return {self.id_field: doc["_id"], **out}


class NamedStore(Store):
    """A namespaced resource users address by id or by its unique name."""
    kind: str = ""            # ids.PREFIXES key
    name_field: str = ""
    not_found_code: str = "not_found"

    def find(self, namespace_id: str, id_or_name: str) -> dict | None:
        if looks_like(self.kind, id_or_name):
            doc = self.coll.find_one({"_id": id_or_name, "namespace_id": namespace_id})
            if doc:
                return doc
        return self.coll.find_one({"namespace_id": namespace_id, self.name_field: id_or_name})

    def get(self, namespace_id: str, id_or_name: str) -> dict:
        doc = self.find(namespace_id, id_or_name)
        if doc is None:
            raise NotFound(f"{self.kind} '{id_or_name}' does not exist", code=self.not_found_code)
        return doc


    def list(self, namespace_id: str, mongo_filter: dict | None = None, *, limit: int | None,
             cursor: str | None) -> Any:
        query: dict[str, Any] = {"namespace_id": namespace_id}
        if mongo_filter:
            query = {"$and": [query, mongo_filter]}
        return paginate(self.coll, query, limit=limit, cursor=cursor, render=self.render)

    def delete(self, namespace_id: str, _id: str) -> None:
        self.coll.delete_one({"_id": _id, "namespace_id": namespace_id})

    def by_ids(self, ids: list[str], fields: dict[str, int] | None = None) -> list[dict]:
        """Rows by id alone (ids already checked), with only `fields` when given."""
        return list(self.coll.find({"_id": {"$in": list(ids)}}, fields))

    def by_id(self, _id: str) -> dict:
        """Look up by id alone — for workers, which act on ids already checked by the API."""
        doc = self.coll.find_one({"_id": _id})
        if doc is None:
            raise NotFound(f"{self.kind} '{_id}' does not exist", code=self.not_found_code)
        return doc


class HeartbeatStore(Store):
    """Rows of chunked jobs (batches, runs) that workers mark alive as chunks complete."""

    def __init__(self, db: Any):
        super().__init__(db)
        self._beats: dict[str, float] = {}   # row id -> monotonic time of this process's last beat

    def heartbeat(self, owner_id: str, min_interval_s: float = 0.0) -> None:
        """Progress was made: the watchdog's stall clock and its re-dispatch count restart.
        With `min_interval_s`, a process writes at most that often per row: every chunk of
        every worker would otherwise update the one batch or run document, a hot spot as
        pools grow."""
        now = time.monotonic()
        if min_interval_s and now - self._beats.get(owner_id, -1e9) < min_interval_s:
            return
        if len(self._beats) > 1000:
            self._beats.clear()
        self._beats[owner_id] = now
        self.coll.update_one({"_id": owner_id}, {"$set": {"heartbeat_at": utcnow(), "redispatches": 0}})


class ChunkSource(Store):
    """A store the batch engine reads in `_id` ranges (objects, documents)."""

    # Projection of the fields the batch engine uses (None: all). Decoding BSON is a good
    # part of a chunk's cost, so bookkeeping fields a chunk never reads stay in MongoDB.
    ENGINE_FIELDS: dict[str, int] | None = None

    def boundaries(self, query: dict, size: int) -> tuple[list[tuple[str, str | None]], int]:
        return id_boundaries(self.coll, query, size)

    def fetch_range(self, query: dict, lo: str, hi: str | None,
                    fields: dict[str, int] | None = None) -> list[dict]:
        return list(self.coll.find(range_query(query, lo, hi), fields).sort("_id", 1))

    def count_matching(self, query: dict) -> int:
        return self.coll.count_documents(query)

    def last_id(self, query: dict) -> Any:
        """The highest `_id` matching `query` (None when nothing does)."""
        row = next(iter(self.coll.find(query, {"_id": 1}).sort("_id", -1).limit(1)), None)
        return None if row is None else row["_id"]
