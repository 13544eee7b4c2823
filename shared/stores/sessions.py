"""Web console sessions: an API key exchanged for a server-side session.

The browser holds only a random session token (in an HttpOnly cookie); the row stores its
SHA-256, so a copy of the database does not hand out live sessions. The key itself is never
stored: the row names the key's id, and every request re-reads that key, so revoking the key
ends its sessions at once. Rows expire through a TTL index; reads also check `expires_at`,
because MongoDB's TTL monitor only runs about once a minute."""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from shared.stores.api_keys import hash_secret
from shared.stores.base import ASCENDING, IndexModel, Store
from shared.timeutil import utcnow


class SessionStore(Store):
    collection_name = "console_sessions"
    namespaced = False

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
                IndexModel([("key_id", ASCENDING)])]

    def create(self, key_id: str, ttl_s: int, admin_hash: str | None = None) -> tuple[str, dict]:
        """A new session for `key_id`; returns (token for the cookie, stored row)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        doc = {"_id": hash_secret(token), "key_id": key_id, "admin_hash": admin_hash,
               "csrf_token": secrets.token_urlsafe(32), "created_at": now,
               "expires_at": now + timedelta(seconds=ttl_s)}
        self.coll.insert_one(doc)
        return token, doc

    def get(self, token: str) -> dict | None:
        if not token:
            return None
        return self.coll.find_one({"_id": hash_secret(token), "expires_at": {"$gt": utcnow()}})

    def delete(self, token: str) -> bool:
        return bool(token) and self.coll.delete_one({"_id": hash_secret(token)}).deleted_count == 1

    def delete_for_key(self, key_id: str) -> int:
        return self.coll.delete_many({"key_id": key_id}).deleted_count

    def count_for_key(self, key_id: str) -> int:
        return self.coll.count_documents({"key_id": key_id, "expires_at": {"$gt": utcnow()}})

    def render(self, doc: dict) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k not in ("_id", "csrf_token", "admin_hash")}
