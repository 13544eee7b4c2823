"""Completion webhooks and their deliveries (an outbox: rows are written when an event
happens and sent by a worker, so an event is never lost to a crash between the two).

A subscription's `secret` (and a URL carrying a token) is encrypted at rest like a webhook
connection's (shared/secrets/sealing.py): sealed on create, opened on every read here."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from shared.errors import NotFound
from shared.secrets.box import SecretBox, UndecryptableSecret
from shared.secrets.sealing import open_webhook, seal_webhook
from shared.status import DeliveryStatus
from shared.stores.base import ASCENDING, IndexModel, Store
from shared.stores.paging import Page, paginate
from shared.timeutil import utcnow


class WebhookStore(Store):
    collection_name = "webhooks"
    id_field = "webhook_id"

    def __init__(self, db: Any, box: SecretBox):
        super().__init__(db)
        self.box = box
        self.deliveries = db["webhook_deliveries"]

    def _shown(self, doc: dict) -> dict:
        """Opened for the API, which only masks: an unreadable value shows as the mask."""
        return open_webhook(doc, self.box, lenient=True)

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("namespace_id", ASCENDING), ("events", ASCENDING)]),
                IndexModel([("namespace_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])]

    def ensure_indexes(self) -> None:
        super().ensure_indexes()
        self.deliveries.create_indexes([
            IndexModel([("webhook_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("dispatched_at", ASCENDING)])])

    def delete_in_namespace(self, namespace_id: str) -> int:
        self.deliveries.delete_many({"namespace_id": namespace_id})
        return super().delete_in_namespace(namespace_id)

    def create(self, doc: dict) -> dict:
        """Store `doc` (plain values) sealed; return it as given."""
        self.coll.insert_one(seal_webhook(doc, self.box))
        return doc

    def get(self, namespace_id: str, webhook_id: str) -> dict:
        doc = self.coll.find_one({"_id": webhook_id, "namespace_id": namespace_id})
        if doc is None:
            raise NotFound(f"webhook '{webhook_id}' does not exist", code="webhook_not_found")
        return self._shown(doc)

    def by_id(self, webhook_id: str) -> dict | None:
        """For the delivery worker: real values; raises UndecryptableSecret if the key is gone."""
        doc = self.coll.find_one({"_id": webhook_id})
        return open_webhook(doc, self.box) if doc is not None else None

    def reseal_all(self) -> tuple[int, list[str]]:
        """Like ConnectionStore.reseal_all: (rows rewritten, ids no key opens)."""
        done, unreadable = 0, []
        for raw in self.coll.find({}, {"url": 1, "secret": 1}):
            try:
                plain = open_webhook(raw, self.box)
            except UndecryptableSecret:
                unreadable.append(raw["_id"])
                continue
            sealed = seal_webhook(plain, self.box)
            done += self.coll.update_one({"_id": raw["_id"], "url": raw.get("url"), "secret": raw.get("secret")},
                                         {"$set": {"url": sealed["url"], "secret": sealed["secret"]}}).modified_count
        return done, unreadable

    def list(self, namespace_id: str, *, limit: int | None, cursor: str | None) -> Page:
        return paginate(self.coll, {"namespace_id": namespace_id}, limit=limit, cursor=cursor,
                        render=self._shown)

    def delete(self, namespace_id: str, webhook_id: str) -> None:
        self.coll.delete_one({"_id": webhook_id, "namespace_id": namespace_id})

    def subscribed(self, namespace_id: str, event_type: str) -> list[dict]:
        return list(self.coll.find({"namespace_id": namespace_id, "events": event_type, "enabled": True}))

    # -- deliveries -----------------------------------------------------------------------------
    def add_deliveries(self, rows: list[dict]) -> None:
        if rows:
            self.deliveries.insert_many(rows)

    def delivery(self, delivery_id: str) -> dict | None:
        return self.deliveries.find_one({"_id": delivery_id})

    def claim_undispatched(self, stale_before: datetime, limit: int = 200) -> list[str]:
        """Pending deliveries never handed to a worker, or handed over long ago without an
        outcome (a lost message): claim each with a compare-and-set so only one sweep sends it."""
        claimed = []
        for row in self.deliveries.find({"status": DeliveryStatus.PENDING.value, "$or": [
                {"dispatched_at": None}, {"dispatched_at": {"$lt": stale_before}}]}, {"dispatched_at": 1}).limit(limit):
            res = self.deliveries.update_one({"_id": row["_id"], "dispatched_at": row.get("dispatched_at")},
                                             {"$set": {"dispatched_at": utcnow()}})
            if res.modified_count:
                claimed.append(row["_id"])
        return claimed

    def finish_delivery(self, delivery_id: str, error: str | None, attempts: int) -> None:
        self.deliveries.update_one({"_id": delivery_id}, {
            "$set": {"status": (DeliveryStatus.FAILED if error else DeliveryStatus.DELIVERED).value, "last_error": error,
                     "delivered_at": None if error else utcnow(), "updated_at": utcnow()},
            "$inc": {"attempts": attempts}})

    def resend(self, webhook_id: str, delivery_id: str) -> dict:
        doc = self.deliveries.find_one_and_update(
            {"_id": delivery_id, "webhook_id": webhook_id},
            {"$set": {"status": DeliveryStatus.PENDING.value, "dispatched_at": utcnow(), "last_error": None}},
            return_document=ReturnDocument.AFTER)
        if doc is None:
            raise NotFound(f"delivery '{delivery_id}' does not exist", code="delivery_not_found")
        return doc

    def deliveries_page(self, webhook_id: str, status: str | None, *, limit: int | None,
                        cursor: str | None) -> Page:
        query: dict[str, Any] = {"webhook_id": webhook_id}
        if status:
            query["status"] = status
        return paginate(self.deliveries, query, limit=limit, cursor=cursor,
                        render=lambda d: {"delivery_id": d["_id"], **{k: v for k, v in d.items() if k != "_id"}})
