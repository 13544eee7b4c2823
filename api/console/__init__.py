"""The web console, served by the API process at /ui/.

Server-rendered Jinja pages plus one small hand-written script for the live parts: no
build step, no CDN, nothing fetched from outside. Pages read through the same stores and
render functions as the JSON API; the live parts and every action call the JSON API itself
with the console's session (see session.py), so no business rule is written twice."""
from __future__ import annotations

from flask import Flask

from api.console import jobs, views  # noqa: F401 - their routes attach to the blueprint
from api.console.blueprint import bp
from api.console.session import session_principal


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    # /v1 routes accept the console's cookie session too (api/auth.py asks for it by this name,
    # so the API's auth does not import the console).
    app.extensions["sluice.session_principal"] = session_principal
