"""The worker kill on RabbitMQ (BROKER_URL=amqp://…; results stay in Redis): a private
rabbitmq-server of the tests' own, or the one BROKER_URL names."""
from __future__ import annotations

import pytest

from tests.support.faults import kill_and_replace
# The broker is the tests' private RabbitMQ (BROKER_URL for the API and the workers).
from tests.support.rabbitmq import settings, worker_env  # noqa: F401

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]


def test_queues_are_quorum_queues_and_depth_is_read(api, app, start_worker):
    start_worker(concurrency=1)
    sender = app.extensions["sluice.tasks"]
    with sender.app.connection_for_read() as conn:
        ok = conn.default_channel.queue_declare(queue="default", passive=True)
        assert ok.queue == "default"
        # Declaring it again as a classic queue is refused: it is a quorum queue.
        with pytest.raises(conn.channel_errors, match="x-queue-type"):
            conn.channel().queue_declare(queue="default", durable=True, auto_delete=False, arguments={"x-queue-type": "classic"})
    assert set(sender.queue_depths(("default", "control"))) == {"default", "control"}
    status, body, _ = api.get("/readyz")
    assert status == 200, body


def test_whole_worker_killed_on_rabbitmq(api, start_worker, mongo_client, settings):
    kill_and_replace(api, start_worker, mongo_client, settings,
                     "RabbitMQ: kill -9 of the whole worker, a replacement started")
