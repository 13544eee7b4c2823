"""The web console, served by the API process at /ui/.

Server-rendered Jinja pages plus one small hand-written script for the live parts: no
build step, no CDN, nothing fetched from outside. Pages read through the same stores and
render functions as the JSON API; the live parts and every action call the JSON API itself
with the console's session (see session.py), so no business rule is written twice."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from shared.errors import SluiceError

bp = Blueprint("console", __name__, url_prefix="/ui", template_folder="templates",
               static_folder="static", static_url_path="/static")

PUBLIC_ENDPOINTS = {"console.login", "console.static"}


@bp.before_request
def _require_session() -> Any:
    from api.console.session import current

    row, principal = current()
    if principal is None:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.method == "GET":
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        from shared.errors import Unauthorized

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


def register(app: Flask) -> None:
    from api.console import jobs, views  # noqa: F401 - their routes attach to bp

    app.register_blueprint(bp)
