"""Celery task names and queue routing, kept in one place as plain data so the API can
enqueue by name without importing worker code."""
from __future__ import annotations

# Queues by kind of work: control tasks (tier callbacks, ticks, watchdog) must never wait
# behind bulk chunk processing.
QUEUE_DEFAULT = "default"
QUEUE_CONTROL = "control"
QUEUE_STREAMING = "streaming"
QUEUE_WEBHOOKS = "webhooks"
QUEUES = (QUEUE_DEFAULT, QUEUE_CONTROL, QUEUE_STREAMING, QUEUE_WEBHOOKS)

START_BATCH = "sluice.batch.start"
PROCESS_CHUNK = "sluice.batch.process_chunk"
TIER_DONE = "sluice.batch.tier_done"
BATCH_FAILED = "sluice.batch.failed"
WATCHDOG = "sluice.control.watchdog"
RUN_WATCHDOG = "sluice.control.run_watchdog"
SCHEDULE_TICK = "sluice.control.schedule_tick"
START_RUN = "sluice.pipeline.start_run"
RUN_CHUNK = "sluice.pipeline.run_chunk"
RUN_DONE = "sluice.pipeline.run_done"
STREAM_STEP = "sluice.streaming.step"
DELIVER_WEBHOOK = "sluice.webhooks.deliver"
WEBHOOK_SWEEP = "sluice.webhooks.sweep"
PING = "sluice.control.ping"

ROUTES: dict[str, str] = {
    START_BATCH: QUEUE_CONTROL,
    PROCESS_CHUNK: QUEUE_DEFAULT,
    TIER_DONE: QUEUE_CONTROL,
    BATCH_FAILED: QUEUE_CONTROL,
    WATCHDOG: QUEUE_CONTROL,
    RUN_WATCHDOG: QUEUE_CONTROL,
    SCHEDULE_TICK: QUEUE_CONTROL,
    START_RUN: QUEUE_CONTROL,
    RUN_CHUNK: QUEUE_DEFAULT,
    RUN_DONE: QUEUE_CONTROL,
    STREAM_STEP: QUEUE_STREAMING,
    "sluice.streaming.watchdog": QUEUE_CONTROL,  # shared.engine.streaming.config.STREAM_WATCHDOG
    DELIVER_WEBHOOK: QUEUE_WEBHOOKS,
    WEBHOOK_SWEEP: QUEUE_CONTROL,
    PING: QUEUE_CONTROL,
}


def lanes(n: int) -> list[str]:
    """The chunk queues ("lanes") workers consuming `default` also consume: `default` itself,
    then default.1 … default.{n-1}. Each active namespace's chunks go to one lane."""
    return [QUEUE_DEFAULT] + [f"{QUEUE_DEFAULT}.{i}" for i in range(1, max(1, n))]


def queue_for(name: str) -> str:
    return ROUTES.get(name, QUEUE_DEFAULT)
