from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict
from shared.stores.base import ASCENDING, IndexModel, NamedStore


class TaxonomyStore(NamedStore):
    collection_name = "taxonomies"
    kind, name_field, not_found_code = "taxonomy", "taxonomy_name", "taxonomy_not_found"
    id_field = "taxonomy_id"

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("taxonomy_name", ASCENDING)], unique=True),
                IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])]

    def create(self, doc: dict) -> dict:
        try:
            self.coll.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"taxonomy '{doc['taxonomy_name']}' already exists", code="taxonomy_exists") from exc
        return doc

    def for_applications(self, applications: list[dict]) -> list[tuple[dict, dict]]:
        """(application, taxonomy) pairs for a collection's taxonomy_applications."""
        docs = {d["_id"]: d for d in self.coll.find(
            {"_id": {"$in": [a["taxonomy_id"] for a in applications]}})} if applications else {}
        return [(a, docs[a["taxonomy_id"]]) for a in applications if a["taxonomy_id"] in docs]
