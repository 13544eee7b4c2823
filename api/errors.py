"""One error envelope for every failure:
    {"error": {"code", "message", "status", "details": [{"path", "message"}]}}"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from shared.errors import ServiceUnavailable, SluiceError
from shared.retry import TRANSIENT_ERRORS

log = logging.getLogger("sluice.api")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "unprocessable", 429: "too_many_requests"}


def envelope(code: str, message: str, status: int, details: list[dict] | None = None) -> Response:
    resp = jsonify({"error": {"code": code, "message": message, "status": status,
                              "details": details or []}})
    resp.status_code = status
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(SluiceError)
    def _domain(exc: SluiceError) -> Response:
        return envelope(exc.code, exc.message, exc.status, exc.details)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 404:
            message = "no such route"
        elif status == 405:
            message = f"method not allowed; allowed: {', '.join(sorted(exc.valid_methods or []))}" \
                if getattr(exc, "valid_methods", None) else "method not allowed"
        return envelope(_HTTP_CODES.get(status, "http_error"), message, status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if isinstance(exc, TRANSIENT_ERRORS):
            log.warning("backing service unavailable: %s", exc)
            err = ServiceUnavailable("a backing service (MongoDB or Redis) is unreachable; retry later",
                                     code="service_unavailable")
            return envelope(err.code, err.message, err.status)
        log.exception("unhandled error")
        return envelope("internal_error", "internal server error", 500)
