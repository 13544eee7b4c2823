"""A worker killed mid-batch loses nothing: work is redelivered and writes are idempotent."""
from __future__ import annotations

import os
import signal

import pytest

from tests.support.batches import wait_batch
from tests.support.faults import N, assert_exact, chunks_done, setup_dag
from tests.support.waiting import wait_until

# Waits below allow for redelivery after the visibility timeout on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(300)


def test_killing_a_pool_child_mid_batch_loses_nothing(api, start_worker, mongo_client, settings):
    setup_dag(api)
    w = start_worker(concurrency=2)
    _, trig, _ = api.post("/v1/collections/slow/trigger", json={})
    wait_until(lambda: chunks_done(api, trig["batch_id"]) >= 2, 60, message="some chunks done")
    children = w.children()
    assert children
    os.kill(children[0], signal.SIGKILL)
    batch = wait_batch(api, trig["batch_id"], timeout=120)
    assert batch["status"] == "COMPLETED", batch
    assert batch["tiers"][0]["counters"]["processed"] == N
    assert_exact(api, mongo_client, settings)


def test_killing_the_whole_worker_mid_batch_loses_nothing(api, start_worker, mongo_client, settings):
    setup_dag(api)
    env = {"SLUICE_VISIBILITY_TIMEOUT_S": "8", "SLUICE_TASK_TIME_LIMIT_S": "6",
           "SLUICE_TASK_SOFT_TIME_LIMIT_S": "5", "SLUICE_UNACKED_RESTORE_INTERVAL_S": "1"}
    w1 = start_worker(concurrency=2, env=env)
    _, trig, _ = api.post("/v1/collections/slow/trigger", json={})
    wait_until(lambda: chunks_done(api, trig["batch_id"]) >= 2, 60, message="some chunks done")
    w1.kill()
    start_worker(concurrency=2, env=env)
    batch = wait_batch(api, trig["batch_id"], timeout=150)
    assert batch["status"] == "COMPLETED", batch
    assert_exact(api, mongo_client, settings)
