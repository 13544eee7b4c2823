"""Connections: named, namespaced endpoints pipelines read from and write to.

The stored config holds secrets in full (a mongodb URI password, a webhook secret and auth
headers are needed to connect); `render` — what the API shows — masks them.
"""
from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict, NotFound
from shared.ids import new_id
from shared.stores.base import ASCENDING, IndexModel, NamedStore
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow


class ConnectionStore(NamedStore):
    collection_name = "connections"
    kind, name_field, not_found_code = "connection", "name", "connection_not_found"
    id_field = "connection_id"

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("name", ASCENDING)], unique=True),
                IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])]

    @staticmethod
    def _exists(name: str) -> Conflict:
        return Conflict(f"connection '{name}' already exists in this namespace", code="connection_exists")

    def create(self, namespace_id: str, name: str, conn_type: str, config: dict) -> dict:
        now = utcnow()
        doc = {"_id": new_id("connection"), "namespace_id": namespace_id, "name": name,
               "type": conn_type, "config": config, "created_at": now, "updated_at": now}
        try:
            self.coll.insert_one(doc)
        except DuplicateKeyError as exc:
            raise self._exists(name) from exc
        return doc

    def update(self, namespace_id: str, connection_id: str, changes: dict) -> dict:
        """Set `name` and/or `config` (already validated)."""
        try:
            doc = self.coll.find_one_and_update(
                {"_id": connection_id, "namespace_id": namespace_id},
                {"$set": {**changes, "updated_at": utcnow()}}, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as exc:
            raise self._exists(changes.get("name", "")) from exc
        if doc is None:
            raise NotFound(f"connection '{connection_id}' does not exist", code=self.not_found_code)
        return doc

    def list(self, namespace_id: str, *, conn_type: str | None = None, limit: int | None,
             cursor: str | None) -> Page:
        query: dict[str, Any] = {"namespace_id": namespace_id}
        if conn_type:
            query["type"] = conn_type
        return paginate(self.coll, query, limit=limit, cursor=cursor, render=self.render)

    def delete(self, namespace_id: str, connection_id: str) -> bool:
        return self.coll.delete_one({"_id": connection_id, "namespace_id": namespace_id}).deleted_count == 1

    def render(self, doc: dict) -> dict:
        """The API shape: secrets masked, plus the roles the type can play."""
        from shared.connectors.config import ROLES, mask_config

        out = super().render(doc)
        out["config"] = mask_config(doc["type"], doc.get("config") or {})
        out["roles"] = list(ROLES.get(doc["type"], ()))
        return out
