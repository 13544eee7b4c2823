"""Celery configuration derived from Settings (built by a function, not at import)."""
from __future__ import annotations

from typing import Any

from kombu import Queue

from shared.engine.streaming.config import STREAM_WATCHDOG
from shared.settings import Settings
from shared.tasknames import QUEUE_DEFAULT, QUEUES, ROUTES, RUN_WATCHDOG, SCHEDULE_TICK, WATCHDOG, WEBHOOK_SWEEP


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        # Unacked messages of a dead worker come back after this; every task's hard time
        # limit is below it (checked in Settings) so a healthy task is never delivered twice.
        # kombu sweeps for expired unacked messages every interval x throttle seconds (100 s by
        # default); a sweep is one sorted-set range query, so we sweep every interval.
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout_s,
                                     "unacked_restore_interval": settings.unacked_restore_interval_s,
                                     "unacked_restore_throttle": 1},
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "broker_connection_retry_on_startup": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Chunks are seconds long; prefetching more than one would park work behind a busy child.
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit_s,
        "task_time_limit": settings.task_time_limit_s,
        "result_expires": settings.result_expires_s,
        "task_default_queue": QUEUE_DEFAULT,
        "task_queues": [Queue(q) for q in QUEUES],
        "task_routes": {name: {"queue": q} for name, q in ROUTES.items()},
        # No STARTED state in the result backend: it cost every chunk task a Redis GET, SET
        # and PUBLISH, and nothing reads it (progress lives in MongoDB; Flower learns that a
        # task started from the task-started event).
        "task_track_started": False,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule(settings),
        "worker_hijack_root_logger": False,
    }


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Beat only fires short static ticks; the ticks claim due work atomically in MongoDB,
    so running two beats never double-fires anything. Entries are added as their tasks land."""
    return {"watchdog": {"task": WATCHDOG, "schedule": settings.watchdog_interval_s},
            "run-watchdog": {"task": RUN_WATCHDOG, "schedule": settings.watchdog_interval_s},
            "webhook-sweep": {"task": WEBHOOK_SWEEP, "schedule": settings.webhook_sweep_s},
            "streaming-watchdog": {"task": STREAM_WATCHDOG, "schedule": settings.streaming.watchdog_interval_s},
            "schedule-tick": {"task": SCHEDULE_TICK, "schedule": settings.schedule_tick_s}}
