"""Base for stores: each store owns one Mongo collection, its document shape and indexes."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

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

    def delete_in_namespace(self, namespace_id: str) -> int:
        if not self.namespaced:
            return 0
        return self.coll.delete_many({"namespace_id": namespace_id}).deleted_count

    def render(self, doc: dict) -> dict:
        """The API shape of a stored row: `_id` becomes the resource's id field."""
        out = {k: v for k, v in doc.items() if k != "_id"}
        return {self.id_field: doc["_id"], **out}
