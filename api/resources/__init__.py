"""Every API resource package registers its blueprint here — one list, one place."""
from __future__ import annotations

from importlib import import_module

from flask import Flask

RESOURCES = (
    "health",
    "namespaces",
    "api_keys",
    "buckets",
    "objects",
    "collections",
    "taxonomies",
    "feature_extractors",
    "batches",
    "tasks",
    "connections",
    "pipelines",
    "streaming",
    "webhooks",
    "queues",
    "recovery",
)


def register_all(app: Flask) -> None:
    for name in RESOURCES:
        module = import_module(f"api.resources.{name}.routes")
        app.register_blueprint(module.bp)
