"""Streaming-pipeline definitions: semantic validation (every problem with its field path,
collected together with the schema's problems) and the API shapes."""
from __future__ import annotations

from typing import Any

from shared.connectors.cdc import SOURCE_TYPES, source_collections
from shared.connectors.streaming_targets import streaming_target
from shared.engine.runs.runs import JS_ENTRY_POINTS
from shared.engine.streaming.config import (DEFAULT_AGENT, DEFAULT_MAX_BATCH_SIZE,
                                            DEFAULT_MAX_BATCH_WAIT_MS)
from shared.errors import ValidationFailed
from shared.filters import parse_filter
from shared.jsbox import check_syntax
from shared.stores import Stores
from shared.stores.streaming import zero_counters
from shared.timeutil import utcnow

SRC_CONN = "streamingSource.connection.connectionId"
DST_CONN = "streamingTarget.connection.connectionId"


def _get(raw: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(part)
    return raw


def _connection(stores: Stores, ns_id: str, ref: Any, path: str, errs: list[dict]) -> dict | None:
    if not isinstance(ref, str) or not ref:
        return None  # the schema reports it
    conn = stores.connections.find(ns_id, ref)
    if conn is None:
        errs.append({"path": path, "message": f"connection '{ref}' does not exist in this namespace"})
    return conn


def _check_source(stores: Stores, ns_id: str, raw: dict, errs: list[dict]) -> tuple[dict | None, list[str]]:
    conn = _connection(stores, ns_id, _get(raw, "streamingSource", "connection", "connectionId"), SRC_CONN, errs)
    if conn is None:
        return None, []
    if conn["type"] not in SOURCE_TYPES:
        errs.append({"path": SRC_CONN, "message": f"a {conn['type']} connection cannot be a streaming source "
                                                  f"(must be one of: {', '.join(SOURCE_TYPES)})"})
        return None, []
    if conn["type"] == "bucket":
        ref = (conn.get("config") or {}).get("bucket_id")
        if not ref or stores.buckets.find(ns_id, ref) is None:
            errs.append({"path": SRC_CONN, "message": f"the connection's bucket '{ref}' no longer exists"})
    requested = _get(raw, "streamingSource", "collections")
    names, problems = source_collections(conn, requested if isinstance(requested, list) else None,
                                         "streamingSource.collections")
    errs.extend(problems)
    return conn, names


def _check_target(stores: Stores, settings: Any, ns_id: str, raw: dict, errs: list[dict]) -> dict | None:
    conn = _connection(stores, ns_id, _get(raw, "streamingTarget", "connection", "connectionId"), DST_CONN, errs)
    if conn is None:
        return None
    collection = _get(raw, "streamingTarget", "collection")
    try:
        streaming_target(stores, conn, {"collection": collection if isinstance(collection, str) else None},
                         settings, "validation").close()
    except ValidationFailed as exc:
        errs.extend(exc.details or [{"path": DST_CONN, "message": exc.message}])
    return conn


def _same_mongo(a: dict, b: dict) -> bool:
    ca, cb = a.get("config") or {}, b.get("config") or {}
    return a["type"] == b["type"] == "mongodb" and ca.get("uri") == cb.get("uri") \
        and ca.get("database") == cb.get("database")


def build_definition(stores: Stores, settings: Any, ns_id: str, raw: Any, body: dict | None,
                     problems: list[dict]) -> dict:
    """Check what the schema could not (connections, roles, collections, filters, JavaScript)
    on the raw request, add the schema's `problems`, and raise ValidationFailed listing them all;
    else return the normalised definition from the schema-loaded `body`."""
    errs = list(problems)
    raw = raw if isinstance(raw, dict) else {}
    src, names = _check_source(stores, ns_id, raw, errs)
    dst = _check_target(stores, settings, ns_id, raw, errs)
    target_coll = _get(raw, "streamingTarget", "collection") or ((dst or {}).get("config") or {}).get("collection")
    if src and dst and _same_mongo(src, dst) and target_coll in names:
        errs.append({"path": "streamingTarget.collection",
                     "message": f"the target '{target_coll}' is a collection the source follows: it would loop"})
    if raw.get("filters") is not None:
        try:
            parse_filter(raw["filters"], "filters")
        except ValidationFailed as exc:
            errs.extend(exc.details)
    code = _get(raw, "transformation", "code")
    if isinstance(code, str):
        try:
            check_syntax(code, JS_ENTRY_POINTS, path="transformation.code")
        except ValidationFailed as exc:
            errs.extend(exc.details)
    if errs or body is None:
        unique = list({(e.get("path"), e.get("message")): e for e in errs}.values())
        raise ValidationFailed(f"invalid streaming pipeline: {len(unique)} problem(s)", details=unique)
    advanced = body.get("advancedProperties") or {}
    return {
        "name": body["name"], "agentId": body.get("agentId") or DEFAULT_AGENT,
        "streamingSource": {"connection": {"connectionId": src["_id"]},
                            "collections": names or None,
                            "snapshot": body["streamingSource"].get("snapshot", True)},
        "streamingTarget": {"connection": {"connectionId": dst["_id"]},
                            "collection": body["streamingTarget"].get("collection")},
        "filters": body.get("filters"),
        "transformation": ({"code": body["transformation"]["code"]} if body.get("transformation") else None),
        "advancedProperties": {
            "maxBatchSize": advanced.get("maxBatchSize", DEFAULT_MAX_BATCH_SIZE),
            "maxBatchWaitMs": advanced.get("maxBatchWaitMs", DEFAULT_MAX_BATCH_WAIT_MS),
            **({"lagAlertSeconds": advanced["lagAlertSeconds"]} if advanced.get("lagAlertSeconds") else {})},
    }


def new_document(pipeline_id: str, ns_id: str, definition: dict) -> dict:
    now = utcnow()
    return {"_id": pipeline_id, "namespace_id": ns_id, "definition": definition,
            "status": "NOT_RUNNING", "error": None, "last_state_change": now, "history": [],
            "epoch": 0, "lease_owner": None, "lease_until": None, "heartbeat_at": None, "step_seq": 0,
            "run": None, "resume_token": None, "snapshot": None, "counters": zero_counters(),
            "last_event_time": None, "lag_seconds": None, "errors_in_row": 0, "recoveries": 0,
            "recent_failures": [], "created_at": now, "updated_at": now}


def source_changed(old: dict, new: dict) -> bool:
    """A new source makes the saved resume token and snapshot position meaningless."""
    a, b = old.get("streamingSource") or {}, new.get("streamingSource") or {}
    return (a.get("connection"), a.get("collections")) != (b.get("connection"), b.get("collections"))


def target_changed(old: dict, new: dict) -> bool:
    """A new target holds none of the keys the old one was sent (the webhook key ledger resets)."""
    return (old.get("streamingTarget") or {}) != (new.get("streamingTarget") or {})


def render(doc: dict) -> dict:
    d = doc["definition"]
    return {"streamingPipelineId": doc["_id"], **d, "status": doc["status"],
            "createdAt": doc.get("created_at"), "updatedAt": doc.get("updated_at")}


def status_view(doc: dict) -> dict:
    return {"streamingPipelineId": doc["_id"], "status": doc["status"], "error": doc.get("error"),
            "counters": {**{k: 0 for k in zero_counters()}, **(doc.get("counters") or {})},
            "lastEventTime": doc.get("last_event_time"), "lagSeconds": doc.get("lag_seconds"),
            "lastStateChange": doc.get("last_state_change"), "heartbeatAt": doc.get("heartbeat_at"),
            "mode": (doc.get("run") or {}).get("mode"), "recoveries": doc.get("recoveries", 0),
            "history": [{"status": h["status"], "at": h["at"]} for h in doc.get("history") or []],
            "recentFailures": doc.get("recent_failures") or [], "resumeTokenLost": bool(doc.get("token_lost")),
            "resumeFrom": (doc.get("run") or {}).get("resume_from")}
