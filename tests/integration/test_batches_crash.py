"""A worker killed mid-batch loses nothing: work is redelivered and writes are idempotent."""
from __future__ import annotations

import os
import signal

import pytest

from tests.e2e_support import wait_until
from tests.integration.test_batches_e2e import load_objects, wait_batch

# Waits below allow for redelivery after the visibility timeout on a loaded 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(300)]

N = 1200
# ~3 ms of CPU per record, so a 100-record chunk takes ~0.3 s and a kill lands mid-chunk.
SLOW_JS = ("function transform(d) { const t = Date.now(); while (Date.now() - t < 3) {} "
           "return {k: d.k, twice: d.k * 2}; }")


def setup_dag(api, js: str = SLOW_JS):
    assert api.post("/v1/buckets", json={"bucket_name": "src", "unique_key": {"fields": ["k"]}})[0] == 201
    load_objects(api, "src", N, lambda i: {"data": {"k": i}})
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "slow", "source": {"type": "bucket", "bucket_id": "src"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {"code": js}}]})
    assert status == 201, body
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "after", "source": {"type": "collection", "collection_id": "slow"},
        "feature_extractors": [{"feature_extractor_name": "field_mapper",
                                "parameters": {"select": ["k", "twice"]}}]})
    assert status == 201, body


def chunks_done(api, batch_id: str) -> int:
    _, body, _ = api.get(f"/v1/batches/{batch_id}")
    return sum(t["chunks"]["done"] for t in body["tiers"])


def assert_exact(api, mongo_client, settings):
    db = mongo_client[settings.mongo_db]
    for name in ("slow", "after"):
        col = api.get(f"/v1/collections/{name}")[1]
        docs = list(db.documents.find({"collection_id": col["collection_id"]}, {"data.k": 1}))
        keys = sorted(d["data"]["k"] for d in docs)
        assert keys == list(range(N)), f"{name}: {len(keys)} docs, {len(set(keys))} distinct"


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
