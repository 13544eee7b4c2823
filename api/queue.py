"""Enqueue work by task name. The API holds a Celery *client* only; it never imports workers/."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import kombu.exceptions
import redis.exceptions

from shared import backlog
from shared.backlog import message_age
from shared.brokerconf import broker_config
from shared.errors import ServiceUnavailable
from shared.settings import Settings
from shared.tasknames import ROUTES, queue_for

log = logging.getLogger("sluice.api")
BROKER_UNAVAILABLE: tuple[type[BaseException], ...] = (
    kombu.exceptions.OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
    ConnectionError, TimeoutError)


class TaskSender:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._app: Any = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from celery import Celery, signals

                    app = Celery("sluice-api")
                    # The workers' broker settings (queues, quorum type, confirms), so the
                    # API publishes exactly where the workers consume.
                    app.conf.update(broker_config(self._settings), task_routes={
                        name: {"queue": q} for name, q in ROUTES.items()})
                    app.conf.broker_connection_retry_on_startup = False
                    # A trigger must answer quickly even when the broker is away (enqueue_start).
                    app.conf.broker_connection_timeout = 2
                    app.conf.task_publish_retry_policy = {"max_retries": 2, "interval_start": 0,
                                                          "interval_step": 0.2, "interval_max": 0.5}
                    signals.before_task_publish.connect(backlog.stamp, weak=False)
                    self._app = app
        return self._app

    def send(self, name: str, args: tuple = (), kwargs: dict | None = None, *,
             task_id: str | None = None, countdown: float | None = None) -> str:
        # The API never reads a result: not subscribing to one keeps a send from waiting on
        # the result backend (20 reconnect tries while Redis is away).
        with _broker_errors():
            result = self.app.send_task(name, args=args, kwargs=kwargs or {}, task_id=task_id,
                                        queue=queue_for(name), countdown=countdown, ignore_result=True)
        return result.id

    def enqueue_start(self, name: str, job_id: str) -> bool:
        """Send a batch's or run's start message. With the broker unreachable the job is
        accepted anyway: it stays PENDING in MongoDB and the workers' recovery sweep sends
        its start once the broker is back (shared.engine.recovery), so it is never lost.
        False when the start was deferred that way."""
        try:
            self.send(name, (job_id,), task_id=f"{job_id}:start")
        except ServiceUnavailable as exc:
            log.warning("broker unreachable; %s stays PENDING until it is back: %s", job_id, exc)
            return False
        return True

    def revoke(self, task_ids: list[str], terminate: bool = False) -> None:
        if task_ids:
            with _broker_errors():
                self.app.control.revoke(task_ids, terminate=terminate)

    def ping_broker(self, timeout: float = 2.0) -> None:
        """Raises when the broker (Redis or RabbitMQ) or the Redis result backend is unreachable."""
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        if self._settings.broker_is_amqp:
            import redis

            client = redis.Redis.from_url(self._settings.redis_url, socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()

    def queue_depths(self, queues: tuple[str, ...]) -> dict[str, int]:
        """Messages waiting per queue, on either broker: a passive declare reports the count
        (0 for a queue no worker has declared yet)."""
        out: dict[str, int] = {}
        with self.app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            for q in queues:
                channel = conn.channel()
                try:
                    out[q] = int(channel.queue_declare(queue=q, passive=True).message_count)
                except conn.channel_errors:
                    out[q] = 0   # not declared yet (AMQP closes the channel on a passive miss)
                finally:
                    try:
                        channel.close()
                    except Exception:  # noqa: BLE001 - already closed by the broker
                        pass
        return out

    @property
    def peeks_queues(self) -> bool:
        """Whether the broker shows a queue's next message without taking it (Redis: yes;
        RabbitMQ: no, see shared.engine.waiting)."""
        return not self._settings.broker_is_amqp

    def oldest_ages(self, queues: list[str]) -> dict[str, float]:
        """Seconds the next message of each queue has waited (Redis: the list's tail); none
        on a broker that cannot be peeked."""
        if not self.peeks_queues:
            return {}
        import redis

        client = redis.Redis.from_url(self._settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            now = time.time()
            return {q: message_age(client.lindex(q, -1), now) for q in queues}
        finally:
            client.close()

    def consumers(self, queue: str, timeout: float = 1.0) -> int:
        """How many workers consume `queue` now (asked over the broker's control channel)."""
        replies = self.app.control.inspect(timeout=timeout).active_queues() or {}
        return sum(1 for queues in replies.values() if any(q.get("name") == queue for q in queues or []))

    def ping_workers(self, timeout: float = 1.0) -> list[str]:
        """Names of the workers that answer; none while the broker is unreachable (a pooled
        connection can outlive a broker restart once)."""
        try:
            replies = self.app.control.ping(timeout=timeout) or []
        except BROKER_UNAVAILABLE as exc:
            log.warning("cannot ping workers: %s", exc)
            return []
        return [name for reply in replies for name in reply]


@contextmanager
def _broker_errors() -> Iterator[None]:
    """The broker clients' connection errors become our ServiceUnavailable (a 503 in the one
    envelope): shared/ does not know kombu."""
    try:
        yield
    except BROKER_UNAVAILABLE as exc:
        raise ServiceUnavailable("the message broker is unreachable; retry later") from exc
