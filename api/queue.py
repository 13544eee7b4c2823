"""Enqueue work by task name. The API holds a Celery *client* only; it never imports workers/."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

from shared.errors import ServiceUnavailable
from shared.settings import Settings
from shared.tasknames import queue_for


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
                    from celery import Celery

                    app = Celery("sluice-api", broker=self._settings.redis_url,
                                 backend=self._settings.redis_url)
                    app.conf.broker_transport_options = {
                        "visibility_timeout": self._settings.visibility_timeout_s}
                    app.conf.broker_connection_retry_on_startup = False
                    self._app = app
        return self._app

    def send(self, name: str, args: tuple = (), kwargs: dict | None = None, *,
             task_id: str | None = None, countdown: float | None = None) -> str:
        with _broker_errors():
            result = self.app.send_task(name, args=args, kwargs=kwargs or {}, task_id=task_id,
                                        queue=queue_for(name), countdown=countdown)
        return result.id

    def revoke(self, task_ids: list[str], terminate: bool = False) -> None:
        if task_ids:
            with _broker_errors():
                self.app.control.revoke(task_ids, terminate=terminate)

    def ping_broker(self, timeout: float = 2.0) -> None:
        import redis

        client = redis.Redis.from_url(self._settings.redis_url, socket_timeout=timeout,
                                      socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()

    def queue_depths(self, queues: tuple[str, ...]) -> dict[str, int]:
        """Messages waiting per queue (kombu's Redis transport keeps each queue as a list)."""
        import redis

        client = redis.Redis.from_url(self._settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            return {q: int(client.llen(q)) for q in queues}
        finally:
            client.close()

    def consumers(self, queue: str, timeout: float = 1.0) -> int:
        """How many workers consume `queue` now (asked over the broker's control channel)."""
        replies = self.app.control.inspect(timeout=timeout).active_queues() or {}
        return sum(1 for queues in replies.values() if any(q.get("name") == queue for q in queues or []))

    def ping_workers(self, timeout: float = 1.0) -> list[str]:
        replies = self.app.control.ping(timeout=timeout) or []
        return [name for reply in replies for name in reply]


@contextmanager
def _broker_errors() -> Iterator[None]:
    """kombu's connection errors become our ServiceUnavailable (a 503 in the one envelope)."""
    import kombu.exceptions

    try:
        yield
    except kombu.exceptions.OperationalError as exc:
        raise ServiceUnavailable("the message broker is unreachable; retry later") from exc
