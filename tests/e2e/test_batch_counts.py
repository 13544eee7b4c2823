"""A batch processes what its trigger selected: objects written while it runs are for the
next trigger, and every total adds up (real worker, real MongoDB and Redis)."""
from __future__ import annotations

from shared.stores.scan import id_boundaries, successor
from tests.support.batches import load_objects, wait_batch
from tests.support.waiting import wait_until


SLOW_JS = "function transform(d) { const t = Date.now(); while (Date.now() - t < 3) {} return {k: d.k}; }"


def test_every_planned_range_is_bounded(mongo_db):
    coll = mongo_db["ids"]
    coll.insert_many([{"_id": f"obj_{i:04d}"} for i in range(25)])
    ranges, total = id_boundaries(coll, {}, 10)
    assert total == 25 and [lo for lo, _ in ranges] == ["obj_0000", "obj_0010", "obj_0020"]
    assert ranges[-1][1] == successor("obj_0024")
    coll.insert_many([{"_id": "obj_0024a"}, {"_id": "obj_0099"}])     # written after planning
    lo, hi = ranges[-1]
    assert coll.count_documents({"_id": {"$gte": lo, "$lt": hi}}) == 5


def test_objects_written_during_tier_0_are_for_the_next_trigger(api, start_worker):
    n, more = 600, 200
    api.post("/v1/buckets", json={"bucket_name": "growing"})
    load_objects(api, "growing", n, lambda i: {"data": {"k": i}})
    api.post("/v1/collections", json={"collection_name": "slowly", "source": {"type": "bucket", "bucket_id": "growing"},
                                      "feature_extractors": [{"feature_extractor_name": "js_transform",
                                                              "parameters": {"code": SLOW_JS}}]})
    api.post("/v1/collections", json={"collection_name": "next", "source": {"type": "collection",
                                                                            "collection_id": "slowly"}})
    _, trig, _ = api.post("/v1/collections/slowly/trigger", json={})
    assert trig["object_count"] == n
    load_objects(api, "growing", 10, lambda i: {"data": {"k": n + i}})     # before the worker even starts
    start_worker(concurrency=2)
    wait_until(lambda: api.get(f"/v1/batches/{trig['batch_id']}")[1]["counters"]["processed"] > 0, 60,
               message="tier 0 to make progress")
    load_objects(api, "growing", more, lambda i: {"data": {"k": n + 10 + i}})
    batch = wait_batch(api, trig["batch_id"], timeout=120)
    assert batch["status"] == "COMPLETED", batch
    t0, t1 = batch["tiers"]
    assert t0["counters"]["fetched"] == t0["counters"]["processed"] == t0["counters"]["written"] == n, t0
    assert t0["progress"] == {"processed": n, "total": n, "percent": 100.0}, t0
    assert t1["counters"]["processed"] == n, t1
    assert batch["counters"]["processed"] == 2 * n
    assert api.get("/v1/collections/slowly")[1]["document_count"] == n
    # the next trigger picks up what was written meanwhile (and the first n again)
    _, again, _ = api.post("/v1/collections/slowly/trigger", json={})
    assert again["object_count"] == n + 10 + more
