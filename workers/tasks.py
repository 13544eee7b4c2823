"""Registers every task module on the Celery app (each module exposes `register(app)`)."""
from __future__ import annotations

from celery import Celery

TASK_MODULES: tuple[str, ...] = ("batch_tasks", "run_tasks", "webhook_tasks", "streaming_tasks")


def register(celery: Celery) -> None:
    from importlib import import_module

    for name in TASK_MODULES:
        import_module(f"workers.{name}").register(celery)
