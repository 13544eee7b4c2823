"""The fault tests' batch: a slow two-tier DAG over N objects, killed into mid-tier, which must
end with exactly N documents in each collection within RECOVERY_S."""
from __future__ import annotations

import time

from tests.support.batches import TERMINAL, load_objects
from tests.support.waiting import wait_until

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


RECOVERY_S = 30


def started(api, start_worker, workers: int = 1) -> tuple[list, str]:
    setup_dag(api)
    ws = [start_worker(concurrency=2) for _ in range(workers)]
    _, trig, _ = api.post("/v1/collections/slow/trigger", json={})
    wait_until(lambda: chunks_done(api, trig["batch_id"]) >= 2, 60, message="some chunks done")
    return ws, trig["batch_id"]


def finished_within(api, batch_id: str, fault_at: float, what: str) -> float:
    def done():
        status, body, _ = api.get(f"/v1/batches/{batch_id}")
        assert status in (200, 503), (status, body)   # 503 while a backing service is back-filling
        return body if status == 200 and body["status"] in TERMINAL else None
    batch = wait_until(done, RECOVERY_S + 60, interval=0.2, message=f"batch {batch_id} to finish")
    took = time.monotonic() - fault_at
    print(f"\n[recovery] {what}: batch finished {took:.1f} s after the fault")
    assert batch["status"] == "COMPLETED", batch
    assert batch["tiers"][0]["counters"]["processed"] == N
    assert took <= RECOVERY_S, f"{what}: {took:.1f} s"
    return took


def kill_and_replace(api, start_worker, mongo_client, settings, what: str) -> None:
    (w1,), batch_id = started(api, start_worker)
    w1.kill()
    fault = time.monotonic()
    start_worker(concurrency=2)
    finished_within(api, batch_id, fault, what)
    assert_exact(api, mongo_client, settings)
