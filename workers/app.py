"""The Celery application. `celery -A workers.app worker` finds `app` here.

`app` is created by `create_celery()` on first access (see `__getattr__`), which reads
settings from the environment once; stores (and their Mongo clients) are built lazily per worker process,
because pymongo is not fork-safe.
"""
from __future__ import annotations

from typing import Any

from celery import Celery

from shared.settings import Settings
from shared.tasknames import PING

_runtime: dict[str, Any] = {}


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    from workers.celeryconfig import celery_config

    celery = Celery("sluice")
    celery.conf.update(celery_config(settings))
    celery.conf.sluice_settings = settings
    _register_tasks(celery)
    return celery


def _register_tasks(celery: Celery) -> None:
    @celery.task(name=PING, ignore_result=False)
    def ping() -> str:
        return "pong"

    from workers import tasks

    tasks.register(celery)


def runtime(celery: Celery) -> Any:
    """Per-process stores, created on first use in the process that needs them."""
    import os

    from shared.stores import Stores

    pid = os.getpid()
    if _runtime.get("pid") != pid:
        _runtime.clear()
        _runtime["pid"] = pid
        _runtime["stores"] = Stores.from_settings(celery.conf.sluice_settings)
    return _runtime["stores"]


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    """`celery -A workers.app` reads `workers.app.app`; building it on first access keeps
    importing this module free of side effects (no env read, no client)."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_celery()
        return _app
    raise AttributeError(name)
