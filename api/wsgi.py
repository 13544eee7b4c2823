"""WSGI entry point for gunicorn: `gunicorn 'api.wsgi:create()'`. Building the app is
deferred to the call so importing this module has no side effects."""
from __future__ import annotations

from flask import Flask

from api.app import create_app


def create() -> Flask:
    return create_app()
