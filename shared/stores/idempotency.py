"""Idempotency-Key memory: the same key within the TTL returns the same result id."""
from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.stores.base import ASCENDING, IndexModel, Store
from shared.timeutil import utcnow


class IdempotencyStore(Store):
    collection_name = "idempotency_keys"

    def __init__(self, db: Any, ttl_s: int = 24 * 3600):
        super().__init__(db)
        self.ttl_s = ttl_s

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("created_at", ASCENDING)], expireAfterSeconds=self.ttl_s)]

    def claim(self, namespace_id: str, scope: str, key: str, result_id: str) -> str | None:
        """Remember `result_id` for the key; return the earlier result id if the key was seen."""
        _id = f"{namespace_id}:{scope}:{key}"
        try:
            self.coll.insert_one({"_id": _id, "namespace_id": namespace_id, "result_id": result_id,
                                  "created_at": utcnow()})
            return None
        except DuplicateKeyError:
            doc = self.coll.find_one({"_id": _id})
            return doc["result_id"] if doc else None
