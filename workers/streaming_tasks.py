"""Streaming-pipeline tasks: the continuation step and its watchdog. Thin wrappers over
shared.engine.streaming; a step does one bounded piece of work, saves its position and
enqueues the next step of its chain, so no worker slot is held between steps."""
from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded

from shared.connectors.streaming_targets import TargetUnavailable
from shared.engine.streaming.config import STREAM_WATCHDOG
from shared.engine.streaming.control import note_error, watchdog
from shared.engine.streaming.decisions import retry_delay
from shared.engine.streaming.step import fail, run_step
from shared.retry import TRANSIENT_ERRORS
from shared.settings import StreamingSettings
from shared.tasknames import QUEUE_STREAMING, STREAM_STEP
from workers.base import SluiceTask, fn

log = logging.getLogger("sluice.streaming")


def streaming_settings(task: SluiceTask) -> StreamingSettings:
    return task.settings.streaming


def send(task: SluiceTask, pipeline_id: str, epoch: int, chain: str, queue: str | None,
         countdown: float | None = None) -> None:
    task.send(STREAM_STEP, pipeline_id, epoch, chain, queue=queue or QUEUE_STREAMING, countdown=countdown)


def step(task: SluiceTask, pipeline_id: str, epoch: int, chain: str) -> str:
    stores, ss = task.stores, streaming_settings(task)
    try:
        result = run_step(stores, task.settings, ss, pipeline_id, epoch, chain)
    except (*TRANSIENT_ERRORS, SoftTimeLimitExceeded, TargetUnavailable) as exc:
        # Retried from the saved position (nothing was saved); FAILED after too many in a row.
        reason = ("the step exceeded the task time limit; lower maxBatchSize" if isinstance(
            exc, SoftTimeLimitExceeded) else f"{type(exc).__name__}: {exc}")
        log.warning("streaming pipeline %s: %s", pipeline_id, reason)
        retry = note_error(stores, ss, pipeline_id, epoch, chain, reason)
        if retry is not None:
            send(task, pipeline_id, epoch, chain, retry[1], countdown=retry_delay(retry[0], ss.lease_s))
        return "retry"
    if result.again:
        send(task, pipeline_id, epoch, chain, result.queue)
    return result.action


def streaming_watchdog(task: SluiceTask) -> dict:
    acted = watchdog(task.stores, streaming_settings(task),
                     lambda pid, epoch, chain, queue: send(task, pid, epoch, chain, queue))
    if any(acted.values()):
        log.warning("streaming watchdog: %s", acted)
    return acted


def _give_up(stores: object, args: tuple, exc: BaseException) -> None:
    # Not a record's fault (those are counted) nor a known pipeline problem: say why.
    pipeline_id, epoch, chain = args
    fail(stores, pipeline_id, f"{type(exc).__name__}: {exc}", {"epoch": epoch, "lease_owner": chain})


FUNCTIONS = (
    # A step retries through its own saved position and error count (note_error), not Celery's.
    fn(STREAM_STEP, step, ignore_result=True, autoretry_for=(), give_up_on=(Exception,), give_up=_give_up),
    fn(STREAM_WATCHDOG, streaming_watchdog, ignore_result=True, autoretry_for=()),
)
