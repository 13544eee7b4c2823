from __future__ import annotations


from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict, NotFound
from shared.stores.base import ASCENDING, IndexModel, NamedStore
from shared.timeutil import utcnow

COLLECTION_SYSTEM_FIELDS = {"collection_id": "_id"}


class CollectionStore(NamedStore):
    collection_name = "collections"
    kind, name_field, not_found_code = "collection", "collection_name", "collection_not_found"
    id_field = "collection_id"

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("collection_name", ASCENDING)], unique=True),
                IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
                IndexModel([("namespace_id", ASCENDING), ("source.bucket_ids", ASCENDING)]),
                IndexModel([("namespace_id", ASCENDING), ("source.collection_ids", ASCENDING)])]

    def create(self, doc: dict) -> dict:
        try:
            self.coll.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"collection '{doc['collection_name']}' already exists in this namespace",
                           code="collection_exists") from exc
        return doc

    def all_in_namespace(self, namespace_id: str) -> list[dict]:
        return list(self.coll.find({"namespace_id": namespace_id}))

    def names_using_bucket(self, namespace_id: str, bucket_id: str) -> list[str]:
        return [d["collection_name"] for d in self.coll.find(
            {"namespace_id": namespace_id, "source.bucket_ids": bucket_id}, {"collection_name": 1})]

    def names_downstream_of(self, namespace_id: str, collection_id: str) -> list[str]:
        return [d["collection_name"] for d in self.coll.find(
            {"namespace_id": namespace_id, "source.collection_ids": collection_id}, {"collection_name": 1})]

    def update(self, namespace_id: str, collection_id: str, changes: dict) -> dict:
        doc = self.coll.find_one_and_update({"_id": collection_id, "namespace_id": namespace_id},
                                            {"$set": {**changes, "updated_at": utcnow()}},
                                            return_document=ReturnDocument.AFTER)
        if doc is None:
            raise NotFound(f"collection '{collection_id}' does not exist", code="collection_not_found")
        return doc

    @staticmethod
    def resolve_field(field: str) -> str:
        return COLLECTION_SYSTEM_FIELDS.get(field, field)
