from __future__ import annotations

import hashlib
import secrets
from typing import Any

from pymongo import ReturnDocument

from shared.errors import NotFound
from shared.ids import new_id
from shared.stores.base import ASCENDING, IndexModel, Store
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow

ALL_NAMESPACES = "*"


def hash_secret(secret: str) -> str:
    # Secrets carry 256 random bits, so a plain SHA-256 (no slow KDF) is enough and keeps
    # per-request verification cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyStore(Store):
    collection_name = "api_keys"
    id_field = "key_id"
    namespaced = False

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("secret_hash", ASCENDING)], unique=True),
                IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)])]

    def create(self, name: str, namespaces: list[str] | str) -> tuple[dict, str]:
        """Store a new key; return it and its secret (shown to the user once, never stored)."""
        secret = "sk_" + secrets.token_urlsafe(32)
        doc = {"_id": new_id("api_key"), "name": name, "namespaces": namespaces,
               "secret_hash": hash_secret(secret), "prefix": secret[:10],
               "created_at": utcnow(), "revoked_at": None}
        self.coll.insert_one(doc)
        return doc, secret

    def authenticate(self, secret: str) -> dict | None:
        return self.coll.find_one({"secret_hash": hash_secret(secret), "revoked_at": None})

    def active(self, key_id: str) -> dict | None:
        """The key with this id unless revoked (console sessions re-read their key by id)."""
        return self.coll.find_one({"_id": key_id, "revoked_at": None})

    def list(self, *, limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, {"revoked_at": None}, limit=limit, cursor=cursor, render=self.render)

    def revoke(self, key_id: str) -> None:
        res = self.coll.update_one({"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}})
        if res.matched_count == 0:
            raise NotFound(f"api key '{key_id}' does not exist", code="api_key_not_found")

    def set_rate_limit(self, key_id: str, limit: dict) -> dict:
        """Change a key's request budget (`requests_per_second`, `burst`; None: the default)."""
        doc = self.coll.find_one_and_update(
            {"_id": key_id, "revoked_at": None},
            {"$set": {f"rate_limit.{k}": v for k, v in limit.items()}}, return_document=ReturnDocument.AFTER)
        if doc is None:
            raise NotFound(f"api key '{key_id}' does not exist", code="api_key_not_found")
        return doc

    def forget_namespace(self, namespace_id: str) -> None:
        self.coll.update_many({"namespaces": namespace_id}, {"$pull": {"namespaces": namespace_id}})

    def render(self, doc: dict) -> dict[str, Any]:
        out = super().render(doc)
        out.pop("secret_hash", None)
        out.pop("revoked_at", None)
        return out
