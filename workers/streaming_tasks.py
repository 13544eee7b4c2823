"""Streaming-pipeline tasks: the continuation step and its watchdog. Thin wrappers over
shared.engine.streaming; a step does one bounded piece of work, saves its position and
enqueues the next step of its chain, so no worker slot is held between steps."""
from __future__ import annotations

import logging

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

from shared.connectors.streaming_targets import TargetUnavailable
from shared.engine.streaming.config import STREAM_WATCHDOG
from shared.engine.streaming.control import note_error, watchdog
from shared.engine.streaming.decisions import retry_delay
from shared.engine.streaming.step import fail, run_step
from shared.retry import TRANSIENT_ERRORS
from shared.tasknames import QUEUE_STREAMING, STREAM_STEP

log = logging.getLogger("sluice.streaming")


def register(app: Celery) -> None:
    from workers.app import runtime

    ss = app.conf.sluice_settings.streaming

    def send(pipeline_id: str, epoch: int, chain: str, queue: str | None, countdown: float | None = None) -> None:
        step.apply_async((pipeline_id, epoch, chain), queue=queue or QUEUE_STREAMING, countdown=countdown)

    @app.task(name=STREAM_STEP, ignore_result=True)
    def step(pipeline_id: str, epoch: int, chain: str) -> str:
        stores = runtime(app)
        try:
            result = run_step(stores, app.conf.sluice_settings, ss, pipeline_id, epoch, chain)
        except (*TRANSIENT_ERRORS, SoftTimeLimitExceeded, TargetUnavailable) as exc:
            # Retried from the saved position (nothing was saved); FAILED after too many in a row.
            reason = ("the step exceeded the task time limit; lower maxBatchSize" if isinstance(
                exc, SoftTimeLimitExceeded) else f"{type(exc).__name__}: {exc}")
            log.warning("streaming pipeline %s: %s", pipeline_id, reason)
            retry = note_error(stores, ss, pipeline_id, epoch, chain, reason)
            if retry is not None:
                send(pipeline_id, epoch, chain, retry[1], countdown=retry_delay(retry[0], ss.lease_s))
            return "retry"
        except Exception as exc:
            # Not a record's fault (those are counted) nor a known pipeline problem: say why.
            fail(stores, pipeline_id, f"{type(exc).__name__}: {exc}", {"epoch": epoch, "lease_owner": chain})
            raise
        if result.again:
            send(pipeline_id, epoch, chain, result.queue)
        return result.action

    @app.task(name=STREAM_WATCHDOG, ignore_result=True)
    def streaming_watchdog() -> dict:
        acted = watchdog(runtime(app), ss, lambda pid, epoch, chain, queue: send(pid, epoch, chain, queue))
        if any(acted.values()):
            log.warning("streaming watchdog: %s", acted)
        return acted
