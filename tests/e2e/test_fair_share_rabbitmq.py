"""Fair share and caps with RabbitMQ as the broker (results stay in Redis): the Redis tests'
scenarios, run again; and the oldest waiting age, which RabbitMQ cannot peek, read from the
engine's chunk rows."""
from __future__ import annotations

import pytest

from tests.support.fairness import CHUNK, batch, capped_at_one_chunk, queues, small_batch_beside_large, tenant, trigger, wait
# The broker is the tests' private RabbitMQ (BROKER_URL for the API and the workers).
from tests.support.rabbitmq import settings, worker_env  # noqa: F401
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(240)


def test_a_small_batch_finishes_while_a_large_one_runs_on_rabbitmq(admin, stores, start_worker):
    small_batch_beside_large(admin, stores, start_worker)


def test_a_namespace_capped_at_one_chunk_never_runs_two_on_rabbitmq(admin, stores, start_worker):
    capped_at_one_chunk(admin, stores, start_worker)


def test_oldest_waiting_age_on_rabbitmq_comes_from_the_chunk_rows(admin, stores, start_worker):
    api = tenant(admin, stores, "tenant-a", 30_000)
    report = queues(admin)
    by_name = {q["queue"]: q for q in report["queues"]}
    # Nothing waits yet: the chunk queues read 0 from the engine; the control queue, which
    # only the broker knows and RabbitMQ cannot peek, is null.
    assert by_name["default"]["oldest_age_seconds"] == 0.0 and by_name["default"]["oldest_age_source"] == "engine"
    assert by_name["control"]["oldest_age_seconds"] is None and by_name["control"]["oldest_age_source"] is None
    b = trigger(api)
    start_worker(concurrency=1, env=CHUNK)      # one process over 120 chunks: seconds of waiting

    def aged():
        assert batch(api, b)["status"] in ("PENDING", "PROCESSING"), "finished before the age was seen"
        return next((q for q in queues(admin)["queues"] if q["queue"].startswith("default")
                     and (q["oldest_age_seconds"] or 0) > 0.5), None)
    lane = wait_until(aged, 60, message="a chunk queue's oldest chunk to age")
    assert lane["oldest_age_source"] == "engine" and lane["depth"] is not None
    text = admin.client.get("/metrics", headers=admin.headers()).get_data(as_text=True)
    assert f'sluice_queue_oldest_age_seconds{{queue="{lane["queue"]}"}}' in text
    assert wait(api, b, 120)["status"] == "COMPLETED"
    assert all(q["oldest_age_seconds"] == 0.0 for q in queues(admin)["queues"] if q["queue"].startswith("default"))
