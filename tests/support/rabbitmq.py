"""Fixtures that put the tests' private RabbitMQ under the API and the workers (results stay
in Redis). A test module imports them to run on RabbitMQ: they override conftest's."""
from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def settings(settings: Any, rabbitmq_url: str) -> Any:
    return settings.with_(broker_url=rabbitmq_url)


@pytest.fixture
def worker_env(worker_env: dict, rabbitmq_url: str) -> dict:
    return {**worker_env, "BROKER_URL": rabbitmq_url}
