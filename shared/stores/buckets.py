from __future__ import annotations


from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict, NotFound
from shared.ids import new_id
from shared.stores.base import ASCENDING, IndexModel, NamedStore
from shared.timeutil import utcnow

BUCKET_SYSTEM_FIELDS = {"bucket_id": "_id", "bucket_name": "bucket_name",
                        "created_at": "created_at", "updated_at": "updated_at"}


class BucketStore(NamedStore):
    collection_name = "buckets"
    kind, name_field, not_found_code = "bucket", "bucket_name", "bucket_not_found"
    id_field = "bucket_id"

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("bucket_name", ASCENDING)], unique=True),
                IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])]

    def create(self, namespace_id: str, spec: dict) -> dict:
        now = utcnow()
        doc = {"_id": new_id("bucket"), "namespace_id": namespace_id,
               "bucket_name": spec["bucket_name"], "description": spec.get("description"),
               "metadata": spec.get("metadata") or {}, "schema": spec.get("schema"),
               "unique_key": spec.get("unique_key"), "created_at": now, "updated_at": now}
        try:
            self.coll.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"bucket '{spec['bucket_name']}' already exists in this namespace",
                           code="bucket_exists") from exc
        return doc

    def update(self, namespace_id: str, bucket_id: str, changes: dict) -> dict:
        if "bucket_name" in changes:
            clash = self.coll.find_one({"namespace_id": namespace_id, "bucket_name": changes["bucket_name"],
                                        "_id": {"$ne": bucket_id}})
            if clash:
                raise Conflict(f"bucket '{changes['bucket_name']}' already exists in this namespace",
                               code="bucket_exists")
        try:
            doc = self.coll.find_one_and_update(
                {"_id": bucket_id, "namespace_id": namespace_id},
                {"$set": {**changes, "updated_at": utcnow()}}, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as exc:
            raise Conflict("bucket name already taken", code="bucket_exists") from exc
        if doc is None:
            raise NotFound(f"bucket '{bucket_id}' does not exist", code="bucket_not_found")
        return doc

    @staticmethod
    def resolve_field(field: str) -> str:
        if field in BUCKET_SYSTEM_FIELDS:
            return BUCKET_SYSTEM_FIELDS[field]
        return field
