"""Stores: the only place pymongo collections are touched. `Stores` bundles them."""
from __future__ import annotations

from typing import Any, Iterator

from shared.secrets.box import box_for
from shared.settings import Settings
from shared.stores.api_keys import ApiKeyStore
from shared.stores.base import Store
from shared.stores.batches import BatchStore
from shared.stores.buckets import BucketStore
from shared.stores.collections import CollectionStore
from shared.stores.connections import ConnectionStore
from shared.stores.documents import DocumentStore
from shared.stores.idempotency import IdempotencyStore
from shared.stores.metrics import MetricsStore
from shared.stores.mongo import Mongo
from shared.stores.namespaces import NamespaceStore
from shared.stores.objects import ObjectStore
from shared.stores.pipelines import PipelineStore
from shared.stores.deadletters import DeadLetterStore
from shared.stores.runs import RunStore
from shared.stores.scheduler import SchedulerStore
from shared.stores.streaming import StreamingStore
from shared.stores.taxonomies import TaxonomyStore
from shared.stores.webhooks import WebhookStore
from shared.stores.workers import WorkerStore
from shared.stores.sessions import SessionStore


class Stores:
    """Every store over one database. Later modules register more stores in `_extra()`."""

    def __init__(self, mongo: Mongo, settings: Settings):
        self.mongo = mongo
        db = mongo.db
        box = box_for(settings)  # one per process: the stores that hold secrets share it
        self.namespaces = NamespaceStore(db)
        self.api_keys = ApiKeyStore(db)
        self.buckets = BucketStore(db)
        self.objects = ObjectStore(db)
        self.collections = CollectionStore(db)
        self.documents = DocumentStore(db)
        self.taxonomies = TaxonomyStore(db)
        self.batches = BatchStore(db)
        self.idempotency = IdempotencyStore(db, settings.idempotency_ttl_s)
        self.connections = ConnectionStore(db, box)
        self.pipelines = PipelineStore(db)
        self.runs = RunStore(db)
        self.scheduler = SchedulerStore(db, {"batch": self.batches.ledger, "run": self.runs.ledger})
        self.dead_letters = DeadLetterStore(db, settings.dead_letters_per_run, settings.dead_letter_ttl_s)
        self.streaming = StreamingStore(db)
        self.metrics = MetricsStore(db)
        self.webhooks = WebhookStore(db, box)
        self.workers = WorkerStore(db)
        self.sessions = SessionStore(db)

    @classmethod
    def from_settings(cls, settings: Settings, **mongo_kw: Any) -> "Stores":
        return cls(Mongo(settings, **mongo_kw), settings)

    def all(self) -> Iterator[Store]:
        return (v for v in vars(self).values() if isinstance(v, Store))

    def reseal_secrets(self) -> dict[str, Any]:
        """Re-encrypt every stored secret with the first SLUICE_SECRET_KEY (`sluice reseal`)."""
        out: dict[str, Any] = {}
        for name, store in (("connections", self.connections), ("webhooks", self.webhooks)):
            done, unreadable = store.reseal_all()
            out[name] = {"resealed": done, "unreadable": unreadable}
        return out

    def ensure_indexes(self) -> None:
        for store in self.all():
            store.ensure_indexes()

    def namespace_resource_counts(self, namespace_id: str) -> dict[str, int]:
        return {s.collection_name: n for s in self.all()
                if s.namespaced and (n := s.count_in_namespace(namespace_id))}

    def bucket_dependents(self, namespace_id: str, bucket_id: str) -> list[str]:
        """Names of collections that read from this bucket (deleting it would orphan them)."""
        return self.collections.names_using_bucket(namespace_id, bucket_id)

    def delete_namespace(self, namespace_id: str) -> None:
        for store in self.all():
            store.delete_in_namespace(namespace_id)
        self.api_keys.forget_namespace(namespace_id)
        self.namespaces.delete(namespace_id)
