"""A real stack for the console's browser tests: the API over HTTP (its own process), a
Celery worker and beat (real processes), MongoDB and Redis; and Debian's chromium driven by
Playwright (pytest-playwright's fixtures, pointed at /usr/bin/chromium: Playwright's own
browser download is never used). Without chromium the tests skip locally and fail in CI."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from typing import Iterator

import pytest
import requests

from tests.support.env import ADMIN_KEY, SECURITY_ENV, in_ci
from tests.support.processes import BeatProcess, REPO, WorkerProcess, stop_group
from tests.support.waiting import wait_until

CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")


def _chromium_or_skip() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not path:
        message = f"chromium is not installed at {CHROMIUM} (./dev test installs the Debian package)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": _chromium_or_skip(), "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


class Stack:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, key: str = ADMIN_KEY, namespace: str | None = None,
             json: dict | None = None, expect: tuple[int, ...] = (200, 201, 204)) -> dict:
        headers = {"Authorization": f"Bearer {key}"}
        if namespace:
            headers["X-Namespace"] = namespace
        resp = requests.request(method, self.base + path, json=json, headers=headers, timeout=10)
        assert resp.status_code in expect, (method, path, resp.status_code, resp.text[:2000])
        return resp.json() if resp.content else {}


@pytest.fixture(scope="module")
def stack(services, mongo_client) -> Iterator[Stack]:
    from api.queue import TaskSender
    from cli.localservices import free_port
    from cli.procs import api_cmd
    from shared.settings import Settings

    db = f"sluice_test_{secrets.token_hex(4)}"
    env = {**os.environ, **services.env(), "SLUICE_DB": db, "SLUICE_ADMIN_KEY": ADMIN_KEY,
           "SLUICE_CHUNK_SIZE": "5", "PYTHONUNBUFFERED": "1", "SLUICE_SCHEDULE_TICK_S": "2", **SECURITY_ENV}
    if services.started_redis:   # only a Redis the tests started may be flushed
        import redis

        client = redis.Redis.from_url(services.redis_url)
        client.flushdb()
        client.close()
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="sluice-console-api-", suffix=".log", delete=False)
    api = subprocess.Popen(api_cmd(port, workers=1), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    sender = TaskSender(Settings.from_env(env))
    worker = beat = None
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(base + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return api.poll() is not None
        wait_until(up, 60, interval=0.2, message="the API to answer")
        assert api.poll() is None, "the API process exited at start"
        worker = WorkerProcess(env, queues="default,control,streaming,webhooks", concurrency=2).start(sender)
        beat = BeatProcess(env).start()
        yield Stack(base)
    finally:
        if beat is not None:
            beat.stop()
        if worker is not None:
            worker.stop()
        stop_group(api)
        log.close()
        mongo_client.drop_database(db)
