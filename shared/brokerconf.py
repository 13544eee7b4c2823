"""Broker settings for every Celery app of Sluice (workers and the API's client), as plain
data so shared/ needs no Celery: Redis by default, RabbitMQ when BROKER_URL is amqp://.

On RabbitMQ the queues are quorum queues (replicated, durable), publishes wait for the
broker's confirm, and exchanges are topic exchanges so Celery's native delayed delivery
can carry countdowns (quorum queues have no global QoS for ETA messages held by a worker).
A dead consumer's unacknowledged messages return to the queue as soon as its connection
drops. On Redis they wait for the visibility timeout, so the worker heartbeat
(shared.engine.liveness) re-sends a dead worker's chunks instead."""
from __future__ import annotations

from typing import Any

from shared.settings import Settings
from shared.tasknames import QUEUES


def broker_config(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "broker_url": settings.broker,
        "result_backend": settings.redis_url,
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
    }
    if settings.broker_is_amqp:
        return conf | {
            "broker_transport_options": {"confirm_publish": True},
            "task_default_exchange_type": "topic",
            "task_queues": {q: {"exchange": q, "exchange_type": "topic", "routing_key": q, "durable": True,
                                "queue_arguments": {"x-queue-type": "quorum"}} for q in QUEUES},
            "task_create_missing_queue_type": "quorum",
            "worker_detect_quorum_queues": True,
        }
    return conf | {
        # Unacked messages of a dead worker come back after this; every task's hard time
        # limit is below it (checked in Settings) so a healthy task is never delivered twice.
        # kombu sweeps for expired unacked messages every interval x throttle seconds (100 s by
        # default); a sweep is one sorted-set range query, so we sweep every interval.
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout_s,
                                     "unacked_restore_interval": settings.unacked_restore_interval_s,
                                     "unacked_restore_throttle": 1},
        "task_queues": {q: {} for q in QUEUES},
    }
