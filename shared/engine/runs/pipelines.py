"""Creating and rendering pipelines: validation of code, connections, filters and limits,
with every problem reported by path; the seed's response shape."""
from __future__ import annotations

import re
from datetime import datetime

from shared.connectors import destination_for, source_for
from shared.engine.batch.collections import sink_collection
from shared.engine.runs.runs import JS_ENTRY_POINTS
from shared.engine.runs.schedule import first_run_at, offset_for
from shared.errors import Conflict, ValidationFailed
from shared.filters import parse_filter
from shared.ids import NAME_RE, NAME_RULE, new_id
from shared.jsbox import check_syntax, validate_limits
from shared.settings import Settings
from shared.stores import Stores
from shared.timeutil import utcnow


def _connection(stores: Stores, ns_id: str, ref: Any, path: str, errs: list[dict]) -> dict | None:
    if not isinstance(ref, str) or not ref:
        # A PATCH loads partially, nested objects too: a sent source/destination replaces
        # the stored one whole, so it must name its connection.
        errs.append({"path": path, "message": "is required"})
        return None
    conn = stores.connections.find(ns_id, ref)
    if conn is None:
        errs.append({"path": path, "message": f"connection '{ref}' does not exist in this namespace"})
    return conn


def missing_sink(stores: Stores, ns_id: str, connection: dict | None, dest: dict) -> str | None:
    """The name in destination.collection when it names a collection of a collection
    connection that does not exist yet (the pipeline creates it), else None."""
    if connection is None or connection.get("type") != "collection":
        return None
    name = dest.get("collection")
    if not name or (connection.get("config") or {}).get("collection_id"):
        return None  # the connection's own collection wins, and must exist
    return name if stores.collections.find(ns_id, name) is None else None


def ensure_sink(stores: Stores, ns_id: str, name: str, pipeline_id: str) -> dict | None:
    """Create the sink collection `name`; None when it exists by now (created meanwhile)."""
    try:
        return stores.collections.create(sink_collection(ns_id, name, pipeline_id))
    except Conflict:
        return None


def build_pipeline(stores: Stores, settings: Settings, ns_id: str, body: dict,
                   pipeline_id: str | None = None) -> tuple[dict, str | None]:
    """The stored pipeline, and the name of the destination collection to create for it (None:
    nothing to create). Nothing is written: every problem is a ValidationFailed first."""
    errs: list[dict] = []
    code_path = "code" if body.get("code") else "transformation_code"
    code = body.get("code") or body.get("transformation_code")
    try:
        check_syntax(code, JS_ENTRY_POINTS, path=code_path)
    except ValidationFailed as exc:
        errs.extend(exc.details)
    source, dest = dict(body["source"]), dict(body["destination"])
    src_conn = _connection(stores, ns_id, source.get("connection_id"), "source.connection_id", errs)
    dst_conn = _connection(stores, ns_id, dest.get("connection_id"), "destination.connection_id", errs)
    sink = missing_sink(stores, ns_id, dst_conn, dest)
    if sink is not None and not re.match(NAME_RE, sink):
        errs.append({"path": "destination.collection", "message": NAME_RULE})
    for conn, spec, make, path in ((src_conn, source, lambda c, s: source_for(stores, c, s), "source"),
                                   (dst_conn, dest, lambda c, s: destination_for(stores, c, s, settings),
                                    "destination")):
        if conn is None:
            continue
        spec["connection_id"] = conn["_id"]
        if spec is dest and sink is not None:
            continue  # created once everything else is valid
        try:
            make(conn, spec).close()
        except ValidationFailed as exc:
            errs.extend(d if d.get("path", "").startswith(path) else
                        {**d, "path": f"{path}.{d['path']}" if d.get("path") else f"{path}.connection_id"}
                        for d in exc.details or [{"path": "", "message": exc.message}])
    if source.get("filters"):
        try:
            parse_filter(source["filters"], "source.filters")
        except ValidationFailed as exc:
            errs.extend(exc.details)
    if body.get("js_limits"):
        errs.extend(validate_limits(body["js_limits"], "js_limits", settings))
    if body.get("incremental") and not body.get("update_time_field"):
        errs.append({"path": "update_time_field", "message": "incremental requires an update time column"})
    if errs:
        raise ValidationFailed(f"invalid pipeline: {len(errs)} problem(s)", details=errs)
    now = utcnow()
    return {"_id": pipeline_id or new_id("pipeline"), "namespace_id": ns_id, "alias": body.get("alias"),
            "code": code, "source": source, "destination": dest, "metadata": body.get("metadata") or {},
            "enabled": body.get("enabled", True), "update_time_field": body.get("update_time_field"),
            "incremental_default": bool(body.get("incremental")), "js_limits": body.get("js_limits"),
            "error_budget": {k: body.get(k) for k in BUDGET_FIELDS},
            "failure_policy": {k: body.get(k) for k in POLICY_FIELDS},
            "schedule": None, "cursor": None, "active_run_id": None, "last_run": None, "skipped": [],
            "created_at": now, "updated_at": now}, sink


BUDGET_FIELDS = ("max_failed_records", "max_failed_ratio")
POLICY_FIELDS = ("disable_after_failures", "failing_after_failures")


def recovery_fields(doc: dict) -> dict:
    """The stored error budget and failure policy as the flat request fields (for a PATCH merge)."""
    return {**{k: (doc.get("error_budget") or {}).get(k) for k in BUDGET_FIELDS},
            **{k: (doc.get("failure_policy") or {}).get(k) for k in POLICY_FIELDS}}


def schedule_fields(pipeline_id: str, period: str | None, now: datetime) -> dict | None:
    if period is None:
        return None
    offset = offset_for(pipeline_id, period)
    return {"period": period, "offset_s": offset, "next_run_at": first_run_at(period, offset, now),
            "last_fired_at": None}


def render_pipeline(doc: dict) -> dict:
    schedule = doc.get("schedule")
    return {"pipeline_id": doc["_id"], "enabled": doc.get("enabled", True),
            "connections": {"source": doc["source"], "destination": doc["destination"]},
            "metadata": doc.get("metadata") or {}, "alias": doc.get("alias"), "code": doc["code"],
            "update_time_field": doc.get("update_time_field"),
            "incremental": doc.get("incremental_default", False), "js_limits": doc.get("js_limits"),
            # Shown while disabled too: the occurrence still comes, and is recorded as skipped.
            "schedule": schedule, "next_run_at": (schedule or {}).get("next_run_at"), "cursor": doc.get("cursor"), "active_run_id": doc.get("active_run_id"),
            "last_run": doc.get("last_run"), "skipped": list(reversed(doc.get("skipped") or [])),
            **recovery_fields(doc), "failure_streak": doc.get("failure_streak", 0),
            "disabled_reason": doc.get("disabled_reason"), "disabled_at": doc.get("disabled_at"),
            "backfill": doc.get("backfill"),
            "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at")}
