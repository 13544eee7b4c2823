"""The MongoDB handle. The client is created lazily, in the process that uses it, because
pymongo is not fork-safe (prefork Celery children must each build their own)."""
from __future__ import annotations

import os
import threading
from typing import Any

from shared.settings import Settings


class Mongo:
    def __init__(self, settings: Settings, *, server_selection_timeout_ms: int = 5000):
        self._settings = settings
        self._timeout = server_selection_timeout_ms
        self._client: Any = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    import pymongo

                    self._client = pymongo.MongoClient(
                        self._settings.mongo_url,
                        serverSelectionTimeoutMS=self._timeout,
                        connectTimeoutMS=self._timeout,
                        tz_aware=False,
                        # An appName in the URL wins: it tells processes apart in mongod's logs
                        # and lets a test aim a fail point at one of them.
                        **({} if "appname=" in self._settings.mongo_url.lower() else {"appname": "sluice"}),
                    )
                    self._pid = os.getpid()
        return self._client

    @property
    def db(self) -> Any:
        return self.client[self._settings.mongo_db]

    def ping(self) -> None:
        self.client.admin.command("ping")

    def close(self) -> None:
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None
