"""The console's blueprint: the session gate, its error pages and its security headers."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from api.console.session import current
from shared.errors import SluiceError, Unauthorized

bp = Blueprint("console", __name__, url_prefix="/ui", template_folder="templates",
               static_folder="static", static_url_path="/static")

PUBLIC_ENDPOINTS = {"console.login", "console.static"}


@bp.before_request
def _require_session() -> Any:
    row, principal = current()
    if principal is None:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.method == "GET":
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        raise Unauthorized("sign in first", code="not_signed_in")
    g.principal, g.console_row = principal, row
    return None


@bp.errorhandler(SluiceError)
def _domain_error(exc: SluiceError) -> Any:
    return render_template("error.html", status=exc.status, message=exc.message, code=exc.code), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    return render_template("error.html", status=status, message=exc.description or exc.name,
                           code="http_error"), status


@bp.after_request
def _headers(resp: Any) -> Any:
    # The console loads nothing from elsewhere; say so to the browser as well.
    resp.headers.setdefault("Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                            "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "console.static":
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp
