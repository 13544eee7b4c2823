"""Connections: named, namespaced endpoints pipelines read from and write to.

Secret values of a config (a mongodb URI with a password, a webhook secret, auth headers)
are encrypted before they reach MongoDB and decrypted when read through this store (see
shared/secrets/sealing.py), because workers need them to connect; `render` — what the
API shows — masks them. Rows written before encryption existed read as they are and are
stored encrypted on their next config change.
"""
from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict, NotFound, Unprocessable
from shared.ids import new_id
from shared.secrets.box import SecretBox, UndecryptableSecret
from shared.secrets.masking import mask_config
from shared.secrets.sealing import open_config, seal_config
from shared.stores.base import ASCENDING, IndexModel, NamedStore
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow


class ConnectionStore(NamedStore):
    collection_name = "connections"
    kind, name_field, not_found_code = "connection", "name", "connection_not_found"
    id_field = "connection_id"

    def __init__(self, db: Any, box: SecretBox):
        super().__init__(db)
        self.box = box

    def _opened(self, doc: dict | None, *, lenient: bool = False) -> dict | None:
        """The row with real secret values. Strict by default: a worker must not try to
        connect with ciphertext, so an unreadable secret is a clear 422 instead."""
        if doc is None:
            return None
        try:
            return {**doc, "config": open_config(doc["type"], doc.get("config") or {}, self.box,
                                                 lenient=lenient)}
        except UndecryptableSecret as exc:
            raise Unprocessable(f"connection '{doc.get('name', doc['_id'])}': {exc}; "
                                f"send its secrets again with PATCH", code="secret_unreadable") from None

    def find(self, namespace_id: str, id_or_name: str, *, lenient: bool = False) -> dict | None:
        return self._opened(super().find(namespace_id, id_or_name), lenient=lenient)

    def get(self, namespace_id: str, id_or_name: str, *, lenient: bool = False) -> dict:
        """`lenient=True` (for showing and editing): unreadable secrets come back masked."""
        doc = self.find(namespace_id, id_or_name, lenient=lenient)
        if doc is None:
            raise NotFound(f"connection '{id_or_name}' does not exist", code=self.not_found_code)
        return doc

    def by_id(self, _id: str) -> dict:
        return self._opened(super().by_id(_id))

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
            self.coll.insert_one({**doc, "config": seal_config(conn_type, config, self.box)})
        except DuplicateKeyError as exc:
            raise self._exists(name) from exc
        return doc

    def update(self, namespace_id: str, connection_id: str, conn_type: str, changes: dict) -> dict:
        """Set `name` and/or `config` (already validated, plain values; sealed here)."""
        if "config" in changes:
            changes = {**changes, "config": seal_config(conn_type, changes["config"], self.box)}
        try:
            doc = self.coll.find_one_and_update(
                {"_id": connection_id, "namespace_id": namespace_id},
                {"$set": {**changes, "updated_at": utcnow()}}, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as exc:
            raise self._exists(changes.get("name", "")) from exc
        if doc is None:
            raise NotFound(f"connection '{connection_id}' does not exist", code=self.not_found_code)
        return self._opened(doc, lenient=True)

    def list(self, namespace_id: str, *, conn_type: str | None = None, limit: int | None,
             cursor: str | None) -> Page:
        query: dict[str, Any] = {"namespace_id": namespace_id}
        if conn_type:
            query["type"] = conn_type
        return paginate(self.coll, query, limit=limit, cursor=cursor, render=self.render)

    def delete(self, namespace_id: str, connection_id: str) -> bool:
        return self.coll.delete_one({"_id": connection_id, "namespace_id": namespace_id}).deleted_count == 1

    def reseal_all(self) -> tuple[int, list[str]]:
        """Re-encrypt every row's secrets with the first key (after a key rotation, or to
        encrypt rows stored before encryption existed): (rows rewritten, ids no key opens)."""
        done, unreadable = 0, []
        for raw in self.coll.find({}, {"type": 1, "config": 1}):
            try:
                plain = open_config(raw["type"], raw.get("config") or {}, self.box)
            except UndecryptableSecret:
                unreadable.append(raw["_id"])
                continue
            # Conditional on the config read, so a PATCH landing meanwhile is never overwritten.
            done += self.coll.update_one({"_id": raw["_id"], "config": raw.get("config")}, {"$set": {
                "config": seal_config(raw["type"], plain, self.box)}}).modified_count
        return done, unreadable

    def render(self, doc: dict) -> dict:
        """The API shape with secrets masked. Opens the row first
        (leniently, a no-op on opened rows) so masking sees URLs, not ciphertext."""
        out = super().render(doc)
        config = open_config(doc["type"], doc.get("config") or {}, self.box, lenient=True)
        out["config"] = mask_config(doc["type"], config)
        return out
