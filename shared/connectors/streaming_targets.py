"""Streaming-pipeline targets: the pipeline destinations plus what change data capture needs.

    streaming_target(stores, connection, target_spec, settings, pipeline_id) -> target
        .write(items, context) -> {key: error}     upsert by key (the destinations' own write)
        .delete(keys, context) -> {key: error}     delete by key; deleting an absent key is a no-op
        .existing(keys) -> set of keys             which keys the target holds now

Delete semantics: a source delete removes the target record (no tombstone), and so does an
update after which the record no longer passes the filters or the transformation drops it:
the target always equals transform(filter(source)). A delete is sent only for keys the target
holds, so a bucket source never forwards another bucket's deletes (see cdc.py).

- mongodb: the target collection is asked directly (`_id` is the key).
- collection: documents `pipeline_document_id(pipeline_id, key)` of the Sluice collection.
- webhook: a receiver cannot be asked, so the keys it was sent are kept in a ledger
  (`streaming_keys`); deletes are POSTed as `{"pipeline_id", "run_id", "chunk_id",
  "records": [], "deletes": [key, ...]}` with `Idempotency-Key: <chunk_id>:d<index>`.
  A batch the receiver still refuses after the retry policy with a *retryable* answer
  (connection error, timeout, 5xx, 429) raises TargetUnavailable: the step is retried from
  its saved position (a stream never drops records because its receiver is down); any other
  refusal (a 4xx) fails those records, counted.
"""
from __future__ import annotations

import json
from typing import Any

from shared.connectors.clients import SharedExternal
from shared.connectors.config import supports
from shared.connectors.internal import CollectionDestination, pipeline_document_id
from shared.connectors.mongodb import MongoDestination
from shared.connectors.webhook import TRANSIENT, WebhookDestination
from shared.errors import TransientError, ValidationFailed
from shared.stores import Stores
from shared.stores.changefeed import delete_ids, ids_present
from shared.stores.streaming import documents_delete, documents_present

TARGET_TYPES = ("collection", "mongodb", "webhook")


_BASE_DELIVER = getattr(WebhookDestination, "deliver", None) or getattr(WebhookDestination, "_deliver")


class TargetUnavailable(TransientError):
    """The target could not take a batch for a reason that may pass (retry the step)."""


class MongoTarget(MongoDestination):
    def __init__(self, connection: dict, dest_spec: dict):
        super().__init__(connection, dest_spec)
        self._ext = SharedExternal(connection, self._ext.timeout_ms)  # one client per process, kept

    def existing(self, keys: list[str]) -> set[str]:
        return {str(k) for k in ids_present(self._ext.collection(self.collection_name), list(keys))}

    def delete(self, keys: list[str], context: dict) -> dict[str, str]:
        delete_ids(self._ext.collection(self.collection_name), list(keys))
        return {}


class CollectionTarget(CollectionDestination):
    def __init__(self, stores: Stores, connection: dict, dest_spec: dict, pipeline_id: str):
        super().__init__(stores, connection, dest_spec)
        self.pipeline_id = pipeline_id

    def _ids(self, keys: list[str]) -> dict[str, str]:
        return {pipeline_document_id(self.pipeline_id, k): k for k in keys}

    def existing(self, keys: list[str]) -> set[str]:
        ids = self._ids(keys)
        return {ids[d] for d in documents_present(self.documents, self.collection_id, list(ids))}

    def delete(self, keys: list[str], context: dict) -> dict[str, str]:
        documents_delete(self.documents, self.collection_id, list(self._ids(keys)))
        return {}


class WebhookTarget(WebhookDestination):
    def __init__(self, stores: Stores, connection: dict, settings: Any, pipeline_id: str):
        super().__init__(connection, {}, settings)
        self.ledger = stores.streaming
        self.pipeline_id, self.namespace_id = pipeline_id, connection["namespace_id"]
        self.unavailable: str | None = None

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        try:
            super()._post(body, headers)
        except TRANSIENT as exc:
            self.unavailable = f"{type(exc).__name__}"
            raise
        self.unavailable = None

    def deliver(self, body: bytes, idempotency_key: str) -> str | None:
        """One batch through the destination's retry policy; a batch whose last attempt was a
        retryable failure raises TargetUnavailable instead of failing its records."""
        self.unavailable = None
        error = _BASE_DELIVER(self, body, idempotency_key)
        if error is not None and self.unavailable is not None:
            raise TargetUnavailable(f"webhook unavailable: {error}")
        return error

    _deliver = deliver  # the destination's write calls one or the other, by its version

    def write(self, items: list[tuple[str, dict]], context: dict) -> dict[str, str]:
        failed = super().write(items, context)
        self.ledger.ledger_add(self.pipeline_id, self.namespace_id,
                               list(dict.fromkeys(k for k, _ in items if k not in failed)))
        return failed

    def existing(self, keys: list[str]) -> set[str]:
        return self.ledger.ledger_present(self.pipeline_id, list(keys))

    def delete(self, keys: list[str], context: dict) -> dict[str, str]:
        failed: dict[str, str] = {}
        keys = list(keys)
        for index, start in enumerate(range(0, len(keys), self.batch_size)):
            batch = keys[start:start + self.batch_size]
            body = json.dumps({"pipeline_id": context.get("pipeline_id"), "run_id": context.get("run_id"),
                               "chunk_id": context.get("chunk_id"), "records": [], "deletes": batch},
                              separators=(",", ":"), ensure_ascii=False).encode()
            error = self.deliver(body, f"{context.get('chunk_id')}:d{index}")
            if error is not None:
                failed.update({k: error for k in batch})
        self.ledger.ledger_remove(self.pipeline_id, [k for k in keys if k not in failed])
        return failed


def target_problem(connection: dict) -> str | None:
    kind = connection.get("type")
    if kind in TARGET_TYPES and supports(kind, "destination"):
        return None
    return (f"a {kind} connection cannot be a streaming target (must be one of: "
            f"{', '.join(TARGET_TYPES)})")


def streaming_target(stores: Stores, connection: dict, target_spec: dict, settings: Any,
                     pipeline_id: str) -> Any:
    problem = target_problem(connection)
    if problem:
        raise ValidationFailed.at("streamingTarget.connection.connectionId", problem,
                                  code="connection_role_invalid")

    spec = {"collection": (target_spec or {}).get("collection")}
    kind = connection["type"]
    try:
        if kind == "mongodb":
            return MongoTarget(connection, spec)
        if kind == "collection":
            return CollectionTarget(stores, connection, spec, pipeline_id)
    except ValidationFailed as exc:
        details = [{**d, "path": "streamingTarget.collection"} for d in exc.details]
        raise ValidationFailed(exc.message, code=exc.code, details=details) from None
    if spec["collection"]:
        raise ValidationFailed.at("streamingTarget.collection", "a webhook target takes no collection")
    return WebhookTarget(stores, connection, settings, pipeline_id)
