"""Flask app factory. Nothing here runs at import: settings, stores and clients are built
when `create_app` is called."""
from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider

from api.auth import authenticate
from api.console import register as register_console
from api.errors import register_error_handlers
from api.metrics import install_metrics
from api.queue import TaskSender
from api.ratelimit import install_rate_limits
from api.resources import register_all
from shared import logs
from shared.settings import Settings
from shared.stores import Stores
from shared.timeutil import iso


access_log = logging.getLogger("sluice.api.access")


class SluiceJSON(DefaultJSONProvider):
    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return iso(o)
        return DefaultJSONProvider.default(o)


def create_app(settings: Settings | None = None, *, stores: Stores | None = None,
               tasks: Any = None, ensure_indexes: bool = True) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    app = Flask("sluice")
    app.json = SluiceJSON(app)
    app.config["SLUICE_SETTINGS"] = settings
    # Werkzeug enforces this before the body is read; our own check gives the envelope.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1024
    stores = stores or Stores.from_settings(settings, server_selection_timeout_ms=3000)
    app.extensions["sluice.stores"] = stores
    app.extensions["sluice.tasks"] = tasks or TaskSender(settings)
    if ensure_indexes:
        try:
            stores.ensure_indexes()
        except Exception:  # noqa: BLE001 - the API still starts; /readyz reports the outage
            logging.getLogger("sluice.api").exception("could not create indexes at start-up")

    @app.before_request
    def _before() -> None:
        g.request_id = request.headers.get("Request-Id") or "req_" + secrets.token_hex(8)
        g.started = time.perf_counter()
        logs.clear()
        logs.bind(request_id=g.request_id,
                  namespace=request.headers.get("X-Namespace") or request.args.get("namespace"))
        authenticate()

    @app.after_request
    def _after(resp: Response) -> Response:
        resp.headers["Request-Id"] = g.get("request_id") or "req_" + secrets.token_hex(8)
        access_log.info("request", extra={
            "method": request.method, "path": request.path, "status": resp.status_code,
            "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2)})
        return resp

    register_error_handlers(app)
    install_rate_limits(app)
    install_metrics(app)
    register_all(app)
    register_console(app)
    return app
