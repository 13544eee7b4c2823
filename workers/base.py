"""The one task base class and how task functions are registered.

Every task retries transient infrastructure errors (MongoDB/Redis unreachable) with
exponential backoff, and once the retries are spent, or on a failure that retrying cannot
fix, calls the task's give-up hook, which fails the batch, run or streaming pipeline with
the reason. Task bodies are plain module-level functions taking the bound task first
(like arq's `ctx`); each task module lists them in `FUNCTIONS`, and `register` turns the
list into Celery tasks."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from shared.retry import TRANSIENT_ERRORS
from shared.stores import Stores

GiveUp = Callable[[Any, tuple, BaseException], None]
_runtime: dict[str, Any] = {}


def runtime(celery: Celery) -> Any:
    """Per-process stores, created on first use in the process that needs them (pymongo is
    not fork-safe, so a prefork child never inherits its parent's client)."""
    pid = os.getpid()
    if _runtime.get("pid") != pid:
        _runtime.clear()
        _runtime["pid"] = pid
        _runtime["stores"] = Stores.from_settings(celery.conf.sluice_settings)
    return _runtime["stores"]


class Context:
    """What task bodies and worker threads use: stores, settings, enqueue by name."""

    app: Celery

    @property
    def stores(self) -> Any:
        return runtime(self.app)

    @property
    def settings(self) -> Any:
        return self.app.conf.sluice_settings

    def send(self, name: str, *args: Any, **options: Any) -> Any:
        """Enqueue a task by name (routing comes from shared.tasknames)."""
        return self.app.send_task(name, args=args, **options)

    def sig(self, name: str, *args: Any) -> Any:
        """An immutable signature, so a chord callback's result is never prepended to args."""
        return self.app.signature(name, args=args, immutable=True)


class AppContext(Context):
    """A Context outside any task (the heartbeat thread)."""

    def __init__(self, app: Celery):
        self.app = app


class SluiceTask(Context, Task):
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 1          # 1, 2, 4, 8 … seconds
    retry_backoff_max = 30
    retry_jitter = False
    max_retries = 5
    # Failures that end the job (transient ones only after the retries above are spent).
    give_up_on: tuple[type[BaseException], ...] = TRANSIENT_ERRORS
    give_up: GiveUp | None = None

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        if self.give_up is not None and isinstance(exc, self.give_up_on):
            self.give_up(self.stores, args, exc)


def chunk_failure(chunk_id: str, exc: BaseException) -> str:
    """Why a chunk ended its batch or run."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return f"chunk {chunk_id} failed after retries: {exc}"
    if isinstance(exc, SoftTimeLimitExceeded):
        return (f"chunk {chunk_id} exceeded the task time limit; "
                "lower SLUICE_CHUNK_SIZE or the per-record JS limits")
    return f"chunk {chunk_id}: {type(exc).__name__}: {exc}"


def fail_job(fail: Callable[[Any, str, str], Any], message: Callable[[tuple, BaseException], str]) -> GiveUp:
    """A give-up hook calling `fail(stores, job_id, reason)` for the job named by the task's
    first argument (a batch or run id, or one of its chunk ids, which start with it)."""
    return lambda stores, args, exc: fail(stores, args[0].split(":", 1)[0], message(args, exc))


@dataclass(frozen=True)
class Fn:
    """One task: its name, its body and Celery options (`give_up`, `give_up_on`,
    `max_retries`, `autoretry_for=()` for tasks that must not be retried, …)."""

    name: str
    body: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)


def fn(name: str, body: Callable[..., Any], **options: Any) -> Fn:
    return Fn(name, body, options)


def register(app: Celery, functions: tuple[Fn, ...]) -> None:
    for f in functions:
        opts = dict(f.options)
        if opts.get("give_up") is not None:
            opts["give_up"] = staticmethod(opts["give_up"])   # a hook, not a method of the task
        app.task(f.body, name=f.name, base=SluiceTask, bind=True, **opts)
