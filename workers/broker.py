"""What the worker reads from the broker and result backend directly.

Redis restarted without its data loses queued messages and chord counters without a word.
A marker key (the epoch) written into the Redis the results live in (the broker too, unless
BROKER_URL points to RabbitMQ) tells: when it is missing, Redis lost its data and the
recovery sweep sends every active job's unfinished work again."""
from __future__ import annotations

from typing import Any

import redis
from kombu import Connection

from shared.settings import Settings

EPOCH_KEY = "sluice:epoch"
_clients: dict[str, Any] = {}


def _redis(url: str) -> Any:
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _clients[url]


def lost_its_data(settings: Settings) -> bool:
    return not _redis(settings.redis_url).exists(EPOCH_KEY)


def mark_epoch(settings: Settings) -> None:
    """Called once the lost work was sent again, so a failure in between is seen again."""
    _redis(settings.redis_url).set(EPOCH_KEY, "1")


def depth(settings: Settings, queue: str) -> int | None:
    """Messages waiting in `queue`; None when the broker cannot say. Called from the
    heartbeat thread, so it opens a plain connection of its own: the app's connections
    belong to the worker's event loop."""
    try:
        if not settings.broker_is_amqp:
            return int(_redis(settings.broker).llen(queue))   # kombu keeps a Redis queue as a list
        with Connection(settings.broker, connect_timeout=2) as conn:
            channel = conn.channel()
            try:
                return int(channel.queue_declare(queue=queue, passive=True).message_count)
            except conn.channel_errors:
                return 0   # not declared yet
    except Exception:  # noqa: BLE001 - unknown depth: the sweep then makes no judgement on it
        return None
