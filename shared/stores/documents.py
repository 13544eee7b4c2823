"""Documents produced by collections. Ids are deterministic (see engine.docbuild), so a
redelivered chunk or a re-trigger upserts instead of duplicating."""
from __future__ import annotations

from typing import Any, Iterable

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from shared.errors import NotFound
from shared.stores.base import ASCENDING, ChunkSource, IndexModel
from shared.stores.paging import Page, paginate

DOCUMENT_SYSTEM_FIELDS = {
    "document_id": "_id", "collection_id": "collection_id", "root_object_id": "root_object_id",
    "source_type": "source_type", "source_id": "source_id", "source_collection_id": "source_collection_id",
    "source_bucket_id": "source_bucket_id", "created_at": "created_at", "updated_at": "updated_at",
    "batch_id": "batch_id",
}


def resolve_document_field(field: str) -> str:
    if field in DOCUMENT_SYSTEM_FIELDS:
        return DOCUMENT_SYSTEM_FIELDS[field]
    if field.startswith(("data.", "taxonomy.", "metadata.")) or field in ("data", "taxonomy"):
        return field
    return f"data.{field}"


class DocumentStore(ChunkSource):
    collection_name = "documents"
    id_field = "document_id"
    ENGINE_FIELDS = {"namespace_id": 0, "source_type": 0, "source_id": 0, "source_collection_id": 0,
                     "batch_id": 0, "batch_attempt": 0, "created_at": 0, "updated_at": 0}

    def __init__(self, db: Any):
        super().__init__(db)
        self._mostly_rewrites: dict[tuple, bool] = {}

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("collection_id", ASCENDING), ("_id", ASCENDING)]),
                # Tier launches scan ids by (collection, batch, attempt): index-only.
                IndexModel([("collection_id", ASCENDING), ("batch_id", ASCENDING), ("batch_attempt", ASCENDING),
                            ("_id", ASCENDING)]),
                IndexModel([("collection_id", ASCENDING), ("source_id", ASCENDING)]),
                IndexModel([("collection_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])]

    def upsert_many(self, docs: list[dict], now: Any) -> int:
        """Write documents by id. New ids are plain inserts (about twice as fast as upserts);
        ids that exist already (a re-trigger, a redelivered chunk) are upserted. A collection
        whose writes turn out to be mostly re-writes goes straight to upserts afterwards."""
        if not docs:
            return 0
        # Per (collection, batch): a re-trigger's rewrites must not turn the next first-time
        # batch of the same collection into upserts.
        collection_id = (docs[0].get("collection_id"), docs[0].get("batch_id"))
        if self._mostly_rewrites.get(collection_id):
            self._upsert(docs, now)
            return len(docs)
        try:
            self.coll.insert_many([{**d, "created_at": now, "updated_at": now} for d in docs], ordered=False)
            return len(docs)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            existing = [docs[e["index"]] for e in errors]
        self._mostly_rewrites[collection_id] = len(existing) * 2 > len(docs)
        self._upsert(existing, now)
        return len(docs)

    def _upsert(self, docs: list[dict], now: Any) -> None:
        ops = [UpdateOne({"_id": d["_id"]},
                         {"$set": {**{k: v for k, v in d.items() if k != "_id"}, "updated_at": now},
                          "$setOnInsert": {"created_at": now}}, upsert=True) for d in docs]
        self.coll.bulk_write(ops, ordered=False)

    def upsert_keyed(self, docs: list[dict], now: Any) -> dict[int, str]:
        """Upsert documents by `_id` (created_at only on insert) and report per-item failures
        as {index in docs: message} instead of raising; unreachable MongoDB still raises."""
        from bson.errors import InvalidDocument
        from pymongo.errors import BulkWriteError

        def op(d: dict) -> UpdateOne:
            return UpdateOne({"_id": d["_id"]},
                             {"$set": {**{k: v for k, v in d.items() if k != "_id"}, "updated_at": now},
                              "$setOnInsert": {"created_at": now}}, upsert=True)

        if not docs:
            return {}
        try:
            self.coll.bulk_write([op(d) for d in docs], ordered=False)
            return {}
        except BulkWriteError as exc:
            return {e["index"]: e.get("errmsg", "write failed") for e in exc.details.get("writeErrors", [])}
        except InvalidDocument:
            # One document cannot be encoded at all: write one by one to isolate it.
            failed: dict[int, str] = {}
            for i, d in enumerate(docs):
                try:
                    self.coll.bulk_write([op(d)])
                except InvalidDocument as exc:
                    failed[i] = f"cannot store the record: {exc}"
                except BulkWriteError as exc:
                    errors = exc.details.get("writeErrors") or [{}]
                    failed[i] = errors[0].get("errmsg", "write failed")
            return failed

    def delete_stale(self, collection_id: str, source_ids: Iterable[str], keep_ids: Iterable[str]) -> int:
        """Drop documents an earlier run made from these sources that this run no longer makes."""
        source_ids = list(source_ids)
        if not source_ids:
            return 0
        return self.coll.delete_many({"collection_id": collection_id, "source_id": {"$in": source_ids},
                                      "_id": {"$nin": list(keep_ids)}}).deleted_count

    def get(self, collection_id: str, document_id: str) -> dict:
        doc = self.coll.find_one({"_id": document_id, "collection_id": collection_id})
        if doc is None:
            raise NotFound(f"document '{document_id}' does not exist", code="document_not_found")
        return doc

    def count(self, collection_ids: Iterable[str], query: dict | None = None) -> int:
        q: dict[str, Any] = {"collection_id": {"$in": list(collection_ids)}}
        return self.coll.count_documents({"$and": [q, query]} if query else q)

    @staticmethod
    def list_query(collection_id: str, mongo_filter: dict | None = None) -> dict:
        """What a document list selects (served by the (collection_id, created_at, _id) index)."""
        query: dict[str, Any] = {"collection_id": collection_id}
        return {"$and": [query, mongo_filter]} if mongo_filter else query

    def list(self, collection_id: str, mongo_filter: dict, *, limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, self.list_query(collection_id, mongo_filter), limit=limit, cursor=cursor,
                        render=self.render)

    def delete_collection(self, collection_id: str) -> int:
        return self.coll.delete_many({"collection_id": collection_id}).deleted_count

    def render(self, doc: dict) -> dict:
        out = super().render(doc)
        # Documents show their fields at the top level, next to lineage, as users read them.
        data = out.pop("data", {}) or {}
        return {**data, **out}

    # -- batch engine reads ---------------------------------------------------------------
    @staticmethod
    def scope_query(collection_ids: list[str], batch_id: str | None = None,
                    mongo_filter: dict | None = None, only_ids: list[str] | None = None,
                    attempt: int | None = None) -> dict:
        parts: list[dict] = [{"collection_id": {"$in": collection_ids}}]
        if batch_id is not None:
            parts.append({"batch_id": batch_id})
        if attempt is not None:
            parts.append({"batch_attempt": attempt})
        if only_ids is not None:
            parts.append({"_id": {"$in": only_ids}})
        if mongo_filter:
            parts.append(mongo_filter)
        return parts[0] if len(parts) == 1 else {"$and": parts}

