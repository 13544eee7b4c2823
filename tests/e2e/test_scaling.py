"""Scaling out: a worker added mid-batch takes a share of the chunks; every document is
written once."""
from __future__ import annotations

import pytest

from tests.support.batches import load_objects, wait_batch
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(300)
N = 2000
SLOW = "function transform(d) { const t = Date.now(); while (Date.now() - t < 4) {} return {k: d.k}; }"


def test_a_second_worker_added_mid_batch_shares_the_work(api, start_worker, mongo_client, settings):
    api.post("/v1/buckets", json={"bucket_name": "b", "unique_key": {"fields": ["k"]}})
    load_objects(api, "b", N, lambda i: {"data": {"k": i}})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"},
                                      "feature_extractors": [{"feature_extractor_name": "js_transform",
                                                              "parameters": {"code": SLOW}}]})
    first = start_worker(concurrency=1)
    _, trig, _ = api.post("/v1/collections/c/trigger", json={})
    wait_until(lambda: api.get(f"/v1/batches/{trig['batch_id']}")[1]["counters"]["processed"] > 0, 60,
               message="the first worker to make progress")
    second = start_worker(concurrency=1)
    batch = wait_batch(api, trig["batch_id"], timeout=240)
    assert batch["status"] == "COMPLETED" and batch["counters"]["processed"] == N
    db = mongo_client[settings.mongo_db]
    by_worker: dict[str, int] = {}
    for row in db.batch_chunks.find({"batch_id": trig["batch_id"]}):
        by_worker[row["worker"]] = by_worker.get(row["worker"], 0) + 1
    assert set(by_worker) == {first.name, second.name}, by_worker
    assert by_worker[second.name] >= 2
    keys = sorted(d["data"]["k"] for d in db.documents.find({"batch_id": trig["batch_id"]}, {"data.k": 1}))
    assert keys == list(range(N))
