from __future__ import annotations

from typing import Any, Callable

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict, NamespaceNotFound
from shared.ids import looks_like, new_id
from shared.stores.base import ASCENDING, IndexModel, Store
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow


class NamespaceStore(Store):
    collection_name = "namespaces"
    id_field = "namespace_id"
    namespaced = False

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_name", ASCENDING)], unique=True),
                IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)])]

    def create(self, name: str, description: str | None, metadata: dict) -> dict:
        now = utcnow()
        doc = {"_id": new_id("namespace"), "namespace_name": name, "description": description,
               "metadata": metadata, "created_at": now, "updated_at": now}
        try:
            self.coll.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"namespace '{name}' already exists", code="namespace_exists") from exc
        return doc

    def find(self, id_or_name: str) -> dict | None:
        if looks_like("namespace", id_or_name):
            doc = self.coll.find_one({"_id": id_or_name})
            if doc:
                return doc
        return self.coll.find_one({"namespace_name": id_or_name})

    def get(self, id_or_name: str, visible: Callable[[str], bool] | None = None) -> dict:
        """The namespace by id or name. With `visible` (a key's scope check on the id), one
        the caller may not use answers exactly like one that does not exist, so a key cannot
        probe which names other tenants have taken."""
        doc = self.find(id_or_name)
        if doc is None or (visible is not None and not visible(doc["_id"])):
            raise NamespaceNotFound(details=[{"path": "namespace", "message": f"no namespace '{id_or_name}'"}])
        return doc

    def list(self, *, ids: list[str] | None, limit: int | None, cursor: str | None) -> Page:
        query: dict[str, Any] = {} if ids is None else {"_id": {"$in": ids}}
        return paginate(self.coll, query, limit=limit, cursor=cursor, render=self.render)

    def with_limits(self, ids: list[str]) -> list[dict]:
        return list(self.coll.find({"_id": {"$in": list(ids)}}, {"limits": 1}))

    def set_limits(self, namespace_id: str, limits: dict) -> dict:
        """Change some of a namespace's limits (the others keep their values)."""
        doc = self.coll.find_one_and_update(
            {"_id": namespace_id},
            {"$set": {**{f"limits.{k}": v for k, v in limits.items()}, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER)
        if doc is None:
            raise NamespaceNotFound(details=[{"path": "namespace", "message": f"no namespace '{namespace_id}'"}])
        return doc

    def delete(self, namespace_id: str) -> None:
        self.coll.delete_one({"_id": namespace_id})
