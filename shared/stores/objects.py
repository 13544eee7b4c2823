"""Objects of a bucket. A bucket's unique_key makes writes idempotent: the key's values are
hashed into `unique_hash`, guarded by a unique index, so concurrent writers of one key can
never create two objects (the index decides, not a read-then-write)."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from pymongo import InsertOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import new_id
from shared.status import ObjectStatus
from shared.stores.base import ASCENDING, ChunkSource, IndexModel
from shared.stores.changefeed import ChangeFeed, current_token, page_after
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow

POLICIES = ("insert", "update", "upsert")
OBJECT_SYSTEM_FIELDS = {"object_id": "_id", "bucket_id": "bucket_id", "key_prefix": "key_prefix",
                        "status": "status", "created_at": "created_at", "updated_at": "updated_at"}


def resolve_object_field(field: str) -> str:
    """User field names in filters/sorts → stored paths. Bare names mean fields of `data`."""
    if field in OBJECT_SYSTEM_FIELDS:
        return OBJECT_SYSTEM_FIELDS[field]
    if field.startswith(("data.", "metadata.")) or field in ("data", "metadata"):
        return field
    return f"data.{field}"


def _get_path(data: dict, path: str) -> Any:
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def unique_hash(unique_key: dict | None, data: dict, path: str = "data") -> str | None:
    """Hash of the unique-key values of `data`; None for buckets without a unique_key."""
    if not unique_key:
        return None
    values = []
    for field in unique_key["fields"]:
        value = _get_path(data, field)
        if value is None:
            raise ValidationFailed.at(f"{path}.{field}", "is required: it is part of the bucket's unique_key",
                                      code="missing_unique_key")
        values.append(value)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ObjectStore(ChunkSource):
    collection_name = "objects"
    id_field = "object_id"
    ENGINE_FIELDS = {"namespace_id": 0, "unique_hash": 0, "created_at": 0, "updated_at": 0}

    def indexes(self) -> list[IndexModel]:
        return [
            IndexModel([("bucket_id", ASCENDING), ("unique_hash", ASCENDING)], unique=True,
                       partialFilterExpression={"unique_hash": {"$type": "string"}}),
            IndexModel([("namespace_id", ASCENDING), ("bucket_id", ASCENDING),
                        ("created_at", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("namespace_id", ASCENDING), ("bucket_id", ASCENDING),
                        ("updated_at", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("bucket_id", ASCENDING), ("_id", ASCENDING)]),
        ]

    @staticmethod
    def keyed(bucket_id: str, hashes: str | list[str]) -> dict:
        """The query for objects by unique-key hash (one, or any of a list). It repeats the
        unique index's partial filter (`$type: string`): MongoDB uses a partial index only for
        queries that imply its filter, and without it every keyed write scanned the bucket."""
        cond: dict[str, Any] = {"$in": hashes} if isinstance(hashes, list) else {"$eq": hashes}
        return {"bucket_id": bucket_id, "unique_hash": {**cond, "$type": "string"}}

    # -- writes -------------------------------------------------------------------------
    def _fields(self, item: dict, now: Any) -> dict:
        return {"key_prefix": item.get("key_prefix"), "metadata": item.get("metadata") or {},
                "data": item["data"], "status": ObjectStatus.PENDING.value, "updated_at": now}

    def _new_doc(self, bucket: dict, item: dict, uhash: str | None, now: Any) -> dict:
        doc = {"_id": new_id("object"), "namespace_id": bucket["namespace_id"],
               "bucket_id": bucket["_id"], **self._fields(item, now), "created_at": now}
        if uhash is not None:
            doc["unique_hash"] = uhash
        return doc

    def write(self, bucket: dict, item: dict, policy: str, uhash: str | None) -> tuple[dict, str]:
        """Write one object; returns (stored doc, outcome 'created' | 'updated')."""
        now = utcnow()
        if uhash is None:
            doc = self._new_doc(bucket, item, None, now)
            self.coll.insert_one(doc)
            return doc, "created"
        key = self.keyed(bucket["_id"], uhash)
        if policy == "insert":
            doc = self._new_doc(bucket, item, uhash, now)
            try:
                self.coll.insert_one(doc)
            except DuplicateKeyError as exc:
                raise Conflict("an object with this unique key already exists",
                               code="duplicate_unique_key") from exc
            return doc, "created"
        if policy == "update":
            doc = self.coll.find_one_and_update(key, {"$set": self._fields(item, now)},
                                                return_document=ReturnDocument.AFTER)
            if doc is None:
                raise NotFound("no object with this unique key exists", code="object_not_found")
            return doc, "updated"
        return self._upsert(bucket, item, uhash, now)

    def _upsert(self, bucket: dict, item: dict, uhash: str, now: Any) -> tuple[dict, str]:
        key = self.keyed(bucket["_id"], uhash)
        update = {"$set": self._fields(item, now),
                  "$setOnInsert": {"_id": new_id("object"), "namespace_id": bucket["namespace_id"],
                                   "created_at": now}}
        for attempt in range(3):
            try:
                before = self.coll.find_one_and_update(key, update, upsert=True,
                                                       return_document=ReturnDocument.BEFORE)
                break
            except DuplicateKeyError:
                # Two upserts raced on an absent key: the loser retries and becomes an update.
                if attempt == 2:
                    raise
        doc = self.coll.find_one(key)
        return doc, ("updated" if before else "created")

    def write_many(self, bucket: dict, items: list[dict], policy: str,
                   hashes: list[str | None]) -> list[dict]:
        """Bulk write of pre-validated items; per item: {index, object_id, outcome[, error]}."""
        now = utcnow()
        if not items:
            return []
        if bucket.get("unique_key") is None or policy == "insert":
            docs = [self._new_doc(bucket, it, h, now) for it, h in zip(items, hashes)]
            failed: dict[int, dict] = {}
            try:
                self.coll.bulk_write([InsertOne(d) for d in docs], ordered=False)
            except BulkWriteError as exc:
                for err in exc.details.get("writeErrors", []):
                    failed[err["index"]] = {"code": "duplicate_unique_key",
                                            "message": "an object with this unique key already exists"}
            return [{"index": i, "object_id": None if i in failed else d["_id"],
                     "outcome": "conflict" if i in failed else "created",
                     **({"error": failed[i]} if i in failed else {})} for i, d in enumerate(docs)]
        return self._write_many_keyed(bucket, items, policy, hashes, now)

    def _write_many_keyed(self, bucket: dict, items: list[dict], policy: str,
                          hashes: list[str | None], now: Any) -> list[dict]:
        existing: set[str] = set()
        if policy == "update":
            existing = {d["unique_hash"] for d in self.coll.find(
                self.keyed(bucket["_id"], list(set(hashes))), {"unique_hash": 1})}
        ops, op_items, results = [], [], []
        for i, (item, h) in enumerate(zip(items, hashes)):
            if policy == "update" and h not in existing:
                results.append({"index": i, "object_id": None, "outcome": "not_found",
                                "error": {"code": "object_not_found",
                                          "message": "no object with this unique key exists"}})
                continue
            op_items.append(i)
            ops.append(UpdateOne(self.keyed(bucket["_id"], h),
                                 {"$set": self._fields(item, now),
                                  "$setOnInsert": {"_id": new_id("object"),
                                                   "namespace_id": bucket["namespace_id"],
                                                   "created_at": now}},
                                 upsert=(policy == "upsert")))
        created = self._bulk_upsert(ops) if ops else set()
        ids = {d["unique_hash"]: d["_id"] for d in self.coll.find(
            self.keyed(bucket["_id"], list(set(hashes))), {"unique_hash": 1})}
        for pos, i in enumerate(op_items):
            results.append({"index": i, "object_id": ids.get(hashes[i]),
                            "outcome": "created" if pos in created else "updated"})
        return sorted(results, key=lambda r: r["index"])

    def _bulk_upsert(self, ops: list[UpdateOne]) -> set[int]:
        """Run keyed upserts unordered; the positions of those that created their object.
        Two writers upserting one absent key race on the unique index: the loser's op fails
        with E11000 (the others still run), and is sent again, now as an update of the
        object the winner created — as the single-object path does."""
        pending, created = list(range(len(ops))), set()
        for attempt in range(3):
            try:
                res = self.coll.bulk_write([ops[p] for p in pending], ordered=False)
                return created | {pending[k] for k in res.upserted_ids}
            except BulkWriteError as exc:
                created |= {pending[u["index"]] for u in exc.details.get("upserted", [])}
                errors = exc.details.get("writeErrors", [])
                if attempt == 2 or any(e.get("code") != 11000 for e in errors):
                    raise
                pending = [pending[e["index"]] for e in errors]
        return created

    # -- reads / single-object changes ---------------------------------------------------
    def get(self, bucket_id: str, object_id: str) -> dict:
        doc = self.coll.find_one({"_id": object_id, "bucket_id": bucket_id})
        if doc is None:
            raise NotFound(f"object '{object_id}' does not exist", code="object_not_found")
        return doc

    def replace(self, bucket_id: str, object_id: str, item: dict, uhash: str | None) -> dict:
        now = utcnow()
        update: dict[str, Any] = {"$set": self._fields(item, now)}
        if uhash is not None:
            update["$set"]["unique_hash"] = uhash
        try:
            doc = self.coll.find_one_and_update({"_id": object_id, "bucket_id": bucket_id}, update,
                                                return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as exc:
            raise Conflict("another object already has this unique key",
                           code="duplicate_unique_key") from exc
        if doc is None:
            raise NotFound(f"object '{object_id}' does not exist", code="object_not_found")
        return doc

    def delete(self, bucket_id: str, object_id: str) -> None:
        if self.coll.delete_one({"_id": object_id, "bucket_id": bucket_id}).deleted_count == 0:
            raise NotFound(f"object '{object_id}' does not exist", code="object_not_found")

    def delete_bucket(self, bucket_id: str) -> int:
        return self.coll.delete_many({"bucket_id": bucket_id}).deleted_count

    def count(self, bucket_ids: Iterable[str], mongo_filter: dict | None = None) -> int:
        query: dict[str, Any] = {"bucket_id": {"$in": list(bucket_ids)}}
        if mongo_filter:
            query = {"$and": [query, mongo_filter]}
        return self.coll.count_documents(query)

    @staticmethod
    def list_query(bucket: dict, mongo_filter: dict | None = None) -> dict:
        """What an object list selects. It names the namespace as well as the bucket: the
        list indexes lead with namespace_id, and without it every list sorted and counted the
        bucket in memory (tests/integration/test_list_plans.py checks the plans)."""
        query: dict[str, Any] = {"namespace_id": bucket["namespace_id"], "bucket_id": bucket["_id"]}
        return {"$and": [query, mongo_filter]} if mongo_filter else query

    def list(self, bucket: dict, mongo_filter: dict, *, sort_field: str, descending: bool,
             limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, self.list_query(bucket, mongo_filter), limit=limit, cursor=cursor,
                        sort_field=sort_field, descending=descending, render=self.render)

    def render(self, doc: dict) -> dict:
        out = super().render(doc)
        out.pop("unique_hash", None)
        return out

    # -- batch engine reads ---------------------------------------------------------------
    @staticmethod
    def scope_query(bucket_ids: list[str], prefix: str | None = None, object_ids: list[str] | None = None,
                    mongo_filter: dict | None = None, only_ids: list[str] | None = None) -> dict:
        import re

        parts: list[dict] = [{"bucket_id": {"$in": bucket_ids}}]
        if prefix:
            parts.append({"key_prefix": {"$regex": "^" + re.escape(prefix)}})
        if object_ids is not None:
            parts.append({"_id": {"$in": object_ids}})
        if only_ids is not None:
            parts.append({"_id": {"$in": only_ids}})
        if mongo_filter:
            parts.append(mongo_filter)
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def set_statuses(self, ids_by_status: dict[str, list[str]]) -> None:
        """Several status updates in one round trip."""
        # `$ne` makes a re-trigger of already-processed objects write nothing.
        ops = [UpdateMany({"_id": {"$in": ids}, "status": {"$ne": status}}, {"$set": {"status": status}})
               for status, ids in ids_by_status.items() if ids]
        if ops:
            self.coll.bulk_write(ops, ordered=False)


    # -- change data capture of a bucket (streaming pipelines whose source is a bucket) -------
    def change_feed(self, pipeline: list[dict], resume_token: dict | None, max_await_ms: int,
                    batch_size: int | None = None, start_at: Any = None) -> ChangeFeed:
        return ChangeFeed(self.coll, pipeline, resume_token, max_await_ms, batch_size, start_at)

    def current_change_token(self, pipeline: list[dict]) -> dict | None:
        return current_token(self.coll, pipeline)

    def page_after(self, bucket_id: str, after: Any, limit: int, *, started: bool) -> list[dict]:
        """A bucket's objects in `_id` order after `after`, for a streaming snapshot."""
        return page_after(self.coll, {"bucket_id": bucket_id}, after, limit, started=started)
