"""An external MongoDB as a pipeline source or destination.

Talking to a user's MongoDB is this connector's whole job, so it (and shared/stores) are the
only places pymongo appears. Each Source/Destination owns one client, created lazily (pymongo
is not fork-safe) and closed by `close()`.
"""
from __future__ import annotations

from typing import Any

import pymongo
from bson import json_util
from bson.decimal128 import Decimal128
from bson.errors import InvalidDocument
from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError, PyMongoError

from shared.connectors.base import Destination, Source
from shared.connectors.mongouri import mongo_name_problem
from shared.errors import ValidationFailed
from shared.secrets.masking import config_secrets, scrub
from shared.stores.scan import id_boundaries, range_query

CLIENT_TIMEOUT_MS = 5000
PROBE_TIMEOUT_MS = 3000


def _client(config: dict, timeout_ms: int) -> Any:
    return pymongo.MongoClient(config["uri"], serverSelectionTimeoutMS=timeout_ms,
                               connectTimeoutMS=timeout_ms, socketTimeoutMS=max(timeout_ms * 6, 30000),
                               tz_aware=False, appname="sluice-connector")


class _External:
    """One lazily created client over a connection's config."""

    def __init__(self, connection: dict, timeout_ms: int):
        self.config = connection.get("config") or {}
        self.secrets = config_secrets("mongodb", self.config)
        self.timeout_ms = timeout_ms
        self._client: Any = None

    def collection(self, name: str) -> Any:
        if self._client is None:
            self._client = _client(self.config, self.timeout_ms)
        return self._client[self.config["database"]][name]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _collection_name(value: Any, path: str) -> str:
    if not value:
        raise ValidationFailed.at(path, "names no collection: set it here or in the connection's "
                                        "config.collection", code="connection_target_missing")
    if (problem := mongo_name_problem(value, "collection")) is not None:
        raise ValidationFailed.at(path, problem)
    return value


# -- range bounds ------------------------------------------------------------------------------
def _bracket(value: Any) -> str:
    """MongoDB compares values of one type bracket only (numbers with numbers, ...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, Decimal128)):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def id_range_query(query: dict, lo: Any, hi: Any | None) -> dict:
    """lo <= _id < hi. Query operators only match within a type bracket, so a range whose ends
    differ in type (or the open last range) compares in aggregation order via $expr, which
    orders across types exactly as the `_id` sort does."""
    if hi is not None and _bracket(lo) == _bracket(hi):
        return range_query(query, lo, hi)
    conds: list[dict] = [{"$gte": ["$_id", {"$literal": lo}]}]
    if hi is not None:
        conds.append({"$lt": ["$_id", {"$literal": hi}]})
    cond = {"$expr": {"$and": conds}}
    return {"$and": [query, cond]} if query else cond


def encode_bound(value: Any) -> Any:
    """JSON-safe form of an `_id` bound (task arguments are JSON): strings and numbers as
    they are, anything else (ObjectId, dates, ...) as canonical Extended JSON."""
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return value
    return {"$bson": json_util.dumps({"v": value}, json_options=json_util.CANONICAL_JSON_OPTIONS)}


def decode_bound(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$bson"}:
        return json_util.loads(value["$bson"], json_options=json_util.CANONICAL_JSON_OPTIONS)["v"]
    return value


# -- source / destination ------------------------------------------------------------------------
class MongoSource(Source):
    kind = "mongodb"

    def __init__(self, connection: dict, source_spec: dict, *, timeout_ms: int = CLIENT_TIMEOUT_MS):
        self._ext = _External(connection, timeout_ms)
        self.collection_name = _collection_name(
            source_spec.get("collection") or self._ext.config.get("collection"), "source.collection")

    @property
    def coll(self) -> Any:
        return self._ext.collection(self.collection_name)

    def boundaries(self, query: dict, size: int) -> tuple[list[tuple[Any, Any | None]], int]:
        ranges, total = id_boundaries(self.coll, query, size)
        return [(encode_bound(lo), encode_bound(hi)) for lo, hi in ranges], total

    def fetch_range(self, query: dict, lo: Any, hi: Any | None) -> list[dict]:
        return list(self.coll.find(id_range_query(query, decode_bound(lo), decode_bound(hi))).sort("_id", 1))

    def bound(self, row: dict) -> Any:
        return encode_bound(row["_id"])

    def close(self) -> None:
        self._ext.close()


class MongoDestination(Destination):
    """Upserts `{**record, "_id": key}` by key: writing a key twice leaves one document."""
    kind = "mongodb"

    def __init__(self, connection: dict, dest_spec: dict, *, timeout_ms: int = CLIENT_TIMEOUT_MS):
        self._ext = _External(connection, timeout_ms)
        self.collection_name = _collection_name(
            dest_spec.get("collection") or self._ext.config.get("collection"), "destination.collection")

    def write(self, items: list[tuple[str, dict]], context: dict) -> dict[str, str]:
        latest: dict[str, dict] = {}
        for key, record in items:  # a key repeated within one call: the last record wins
            latest[key] = record
        if not latest:
            return {}
        keys = list(latest)
        # `_id` first: pymongo judges a replacement by its first key
        ops = [ReplaceOne({"_id": k}, {"_id": k, **{f: v for f, v in latest[k].items() if f != "_id"}},
                          upsert=True) for k in keys]
        coll = self._ext.collection(self.collection_name)
        try:
            coll.bulk_write(ops, ordered=False)
            return {}
        except BulkWriteError as exc:
            if exc.details.get("writeConcernErrors") and not exc.details.get("writeErrors"):
                raise
            return {keys[e["index"]]: scrub(e.get("errmsg", "write failed"), self._ext.secrets)
                    for e in exc.details.get("writeErrors", [])}
        except (InvalidDocument, ValueError):
            # pymongo refused to encode one record: write one by one to isolate it
            return self._one_by_one(coll, keys, ops)

    def _one_by_one(self, coll: Any, keys: list[str], ops: list[ReplaceOne]) -> dict[str, str]:
        failed: dict[str, str] = {}
        for key, op in zip(keys, ops):
            try:
                coll.bulk_write([op])
            except (InvalidDocument, ValueError) as exc:
                failed[key] = f"cannot store the record: {exc}"
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or [{}]
                failed[key] = scrub(errors[0].get("errmsg", "write failed"), self._ext.secrets)
        return failed

    def close(self) -> None:
        self._ext.close()


def describe_error(exc: Exception) -> str:
    """A one-line account of a pymongo error (without the topology dump or full reply)."""
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details.get("errmsg"):
        return f"{type(exc).__name__}: {details.get('codeName') or 'error'}: {details['errmsg']}"
    text = str(exc).split(", full error:")[0].split(", Timeout:")[0]
    return f"{type(exc).__name__}: {text}"


def probe(connection: dict, *, timeout_ms: int = PROBE_TIMEOUT_MS) -> str | None:
    """None when the server answers `ping` and the collection can be counted (or, without a
    collection, the database's collections listed); else the reason, secrets scrubbed."""
    config = connection.get("config") or {}
    client = None
    try:
        client = _client(config, timeout_ms)
        client.admin.command("ping")
        db = client[config["database"]]
        if config.get("collection"):
            db[config["collection"]].count_documents({}, limit=1)
        else:
            db.list_collection_names()
        return None
    except PyMongoError as exc:
        return scrub(describe_error(exc), config_secrets("mongodb", config))[:500]
    finally:
        if client is not None:
            client.close()
