"""Registers every task on the Celery app: each task module lists its plain functions in
`FUNCTIONS` (as arq's WorkerSettings.functions), registered with the one base class."""
from __future__ import annotations

from celery import Celery

from shared.tasknames import PING
from workers import base, batch_tasks, run_tasks, streaming_tasks, webhook_tasks

TASK_MODULES = (batch_tasks, run_tasks, webhook_tasks, streaming_tasks)


def ping(task: base.SluiceTask) -> str:
    return "pong"


FUNCTIONS = (base.fn(PING, ping, ignore_result=False, autoretry_for=()),)


def register(celery: Celery) -> None:
    base.register(celery, FUNCTIONS)
    for module in TASK_MODULES:
        base.register(celery, module.FUNCTIONS)
