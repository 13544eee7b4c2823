from __future__ import annotations

from flask import Blueprint, jsonify

from api.context import stores, tasks
from api.errors import envelope
from api.openapi import build_spec

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    checks: dict[str, str] = {}
    try:
        stores().mongo.ping()
        checks["mongo"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a readiness probe
        checks["mongo"] = f"unreachable: {type(exc).__name__}"
    try:
        tasks().ping_broker()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    try:
        # A short timeout: readiness must answer fast even when no worker is up.
        workers = tasks().ping_workers(timeout=1.0) if checks["redis"] == "ok" else []
        checks["workers"] = "ok" if workers else "no worker answered a ping within 1 s"
    except Exception as exc:  # noqa: BLE001
        workers = []
        checks["workers"] = f"unreachable: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", "checks": checks, "workers": workers}
    resp = envelope("service_unavailable", "not ready: " + ", ".join(
        f"{k} {v}" for k, v in checks.items() if v != "ok"), 503,
        [{"path": k, "message": v} for k, v in checks.items() if v != "ok"])
    return resp


@bp.get("/v1/openapi.json")
def openapi():
    from flask import current_app

    return jsonify(build_spec(current_app))
