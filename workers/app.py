"""The Celery application. `celery -A workers.app worker` finds `app` here.

`app` is created by `create_celery()` on first access (see `__getattr__`), which reads
settings from the environment once; stores (and their Mongo clients) are built lazily per worker process,
because pymongo is not fork-safe.
"""
from __future__ import annotations

from typing import Any

from celery import Celery, signals

from shared import backlog
from shared.engine.batch.batches import add_end_listener
from shared.engine.events import add_listener
from shared.settings import Settings
from shared.tasknames import QUEUE_DEFAULT, WEBHOOK_SWEEP, lanes
from workers import batch_tasks, liveness, tasks
from workers.base import AppContext, runtime
from workers.celeryconfig import celery_config

__all__ = ["create_celery", "runtime"]


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    celery = Celery("sluice")
    celery.conf.update(celery_config(settings))
    celery.conf.sluice_settings = settings
    _register_tasks(celery)
    _install_logging(settings.log_level)
    liveness.install(celery)
    _consume_lanes(settings)
    signals.before_task_publish.connect(backlog.stamp, weak=False)
    return celery


def _consume_lanes(settings: Settings) -> None:
    """A worker told to consume `default` consumes every chunk lane too, so no command line
    (tests, compose, `sluice up`) has to list them."""
    from celery import signals

    @signals.celeryd_after_setup.connect(weak=False)
    def _add(sender: Any = None, instance: Any = None, **_: Any) -> None:
        queues = instance.app.amqp.queues
        if QUEUE_DEFAULT in queues.consume_from:
            for lane in lanes(settings.chunk_lanes):
                if lane not in queues.consume_from:
                    queues.select_add(lane)


def _install_logging(level: str) -> None:
    """JSON log lines carrying the task's batch/run id, tier and chunk."""
    from celery import signals

    from shared import logs

    @signals.setup_logging.connect(weak=False)
    def _setup(**_: Any) -> None:  # connected: Celery leaves the root logger to us
        logs.configure(level)

    @signals.task_prerun.connect(weak=False)
    def _bind(task_id: str = "", task: Any = None, args: tuple = (), **_: Any) -> None:
        logs.clear()
        fields: dict[str, Any] = {"task": getattr(task, "name", None), "task_id": task_id}
        if args and isinstance(args[0], str):
            ref = args[0]
            fields |= logs.chunk_context(ref) if ":" in ref else (
                {"batch_id": ref} if ref.startswith("bat_") else {"run_id": ref} if ref.startswith("run_") else {})
        logs.bind(**fields)


def _register_tasks(celery: Celery) -> None:
    tasks.register(celery)
    # Completion events recorded by this process are sent at once rather than at the next sweep.
    add_listener(lambda ids: celery.send_task(WEBHOOK_SWEEP))
    # A batch that ends here starts the next one its namespace's max_active_batches held back.
    add_end_listener("start_next", batch_tasks.start_next(AppContext(celery)))


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
