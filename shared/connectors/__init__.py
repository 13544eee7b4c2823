"""Connectors: what a pipeline reads from and writes to, built from a stored connection.

    source_for(stores, connection, source_spec) -> Source
    destination_for(stores, connection, dest_spec, settings) -> Destination
    probe_connection(stores, connection, settings) -> {"ok": True, "latency_ms": 3.2} | {"ok": False, "error": "..."}

Types: bucket (source), collection (source, destination), mongodb (source, destination),
webhook (destination). A type used in the wrong role is a ValidationFailed.
"""
from __future__ import annotations

import time
from typing import Any

from shared.connectors.base import Destination, Source
from shared.connectors.config import CONNECTION_TYPES, ROLES, supports
from shared.connectors.internal import (BucketSource, CollectionDestination, CollectionSource, probe_bucket,
                                       probe_collection)
from shared.connectors.mongodb import MongoDestination, MongoSource, probe as probe_mongo
from shared.connectors.webhook import WebhookDestination, probe as probe_webhook
from shared.errors import ValidationFailed
from shared.stores import Stores

__all__ = ["Source", "Destination", "source_for", "destination_for", "probe_connection",
           "require_role", "CONNECTION_TYPES", "ROLES", "supports"]


def require_role(connection: dict, role: str, path: str) -> None:
    """ValidationFailed at `path` unless the connection's type can play `role`."""
    conn_type = connection.get("type")
    if not supports(conn_type, role):
        allowed = ", ".join(t for t in CONNECTION_TYPES if supports(t, role))
        raise ValidationFailed.at(path, f"a {conn_type} connection cannot be a {role} "
                                        f"(a {role} must be one of: {allowed})",
                                  code="connection_role_invalid")


def source_for(stores: Stores, connection: dict, source_spec: dict) -> Source:
    require_role(connection, "source", "source.connection_id")
    source_spec = source_spec or {}
    kind = connection["type"]
    if kind == "bucket":
        return BucketSource(stores, connection, source_spec)
    if kind == "collection":
        return CollectionSource(stores, connection, source_spec)
    return MongoSource(connection, source_spec)


def destination_for(stores: Stores, connection: dict, dest_spec: dict, settings: Any) -> Destination:
    require_role(connection, "destination", "destination.connection_id")
    dest_spec = dest_spec or {}
    kind = connection["type"]
    if kind == "collection":
        return CollectionDestination(stores, connection, dest_spec)
    if kind == "mongodb":
        return MongoDestination(connection, dest_spec)
    return WebhookDestination(connection, dest_spec, settings)


def probe_connection(stores: Stores, connection: dict, settings: Any = None) -> dict:
    """Reach the connection's endpoint once: bucket/collection exist; mongodb answers `ping`
    and lets us count the collection; a webhook answers (see webhook.probe for the rule)."""
    kind = connection["type"]
    started = time.perf_counter()
    if kind == "bucket":
        error = probe_bucket(stores, connection)
    elif kind == "collection":
        error = probe_collection(stores, connection)
    elif kind == "mongodb":
        error = probe_mongo(connection)
    else:
        error = probe_webhook(connection, settings)  # settings say where webhooks may connect
    if error is not None:
        return {"ok": False, "error": error}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
