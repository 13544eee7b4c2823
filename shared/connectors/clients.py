"""External MongoDB clients kept per process for streaming steps.

A streaming pipeline runs one short step after another; building a MongoClient per step
(topology discovery, connection handshake, monitor threads) cost ~20 ms of a ~100 ms step.
`SharedExternal` has the interface of mongodb._External but takes its client from a small
per-process cache keyed by (URI, timeout): `close()` leaves it for the next step. The cache is
keyed by process id too (pymongo is not fork-safe: a prefork child never uses its parent's
clients) and holds at most MAX_CLIENTS, closing the least recently used.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from shared.connectors.mongodb import _client
from shared.secrets.masking import config_secrets

MAX_CLIENTS = 16
_lock = threading.Lock()
_cache: "OrderedDict[tuple[str, int], Any]" = OrderedDict()
_owner_pid: list[int] = [os.getpid()]


def shared_client(uri_config: dict, timeout_ms: int) -> Any:
    key = (uri_config["uri"], int(timeout_ms))
    with _lock:
        if _owner_pid[0] != os.getpid():  # a forked child: the parent's clients are not ours
            _cache.clear()
            _owner_pid[0] = os.getpid()
        client = _cache.get(key)
        if client is None:
            client = _cache[key] = _client(uri_config, timeout_ms)
            while len(_cache) > MAX_CLIENTS:
                _cache.popitem(last=False)[1].close()
        _cache.move_to_end(key)
        return client


def close_all() -> None:
    with _lock:
        if _owner_pid[0] == os.getpid():
            for client in _cache.values():
                client.close()
        _cache.clear()


class SharedExternal:
    """mongodb._External over a cached client."""

    def __init__(self, connection: dict, timeout_ms: int):
        self.config = connection.get("config") or {}
        self.secrets = config_secrets("mongodb", self.config)
        self.timeout_ms = timeout_ms

    def collection(self, name: str) -> Any:
        return shared_client(self.config, self.timeout_ms)[self.config["database"]][name]

    def close(self) -> None:
        pass  # the client stays cached for the next step
