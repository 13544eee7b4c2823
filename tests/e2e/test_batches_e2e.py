"""Trigger → batch → chain of chords, with real Celery worker processes."""
from __future__ import annotations

from tests.support.batches import load_objects, text_for, wait_batch


def test_three_tier_dag_end_to_end(api, three_tier, start_worker):
    a, b, c = three_tier
    n = 1500
    load_objects(api, "articles", n, lambda i: {"data": {"sku": f"s{i}", "body": text_for(i)}})
    start_worker(concurrency=2)
    status, trig, _ = api.post("/v1/collections/chunks/trigger", json={})
    assert status == 200, trig
    assert set(trig) == {"batch_id", "task_id", "collection_id", "total_tiers", "message", "source_bucket_ids",
                         "source_collection_ids", "object_count", "document_count"}
    assert trig["total_tiers"] == 3 and trig["object_count"] == n
    batch = wait_batch(api, trig["batch_id"])
    assert batch["status"] == "COMPLETED", batch
    t0, t1, t2 = batch["tiers"]
    assert t0["counters"]["processed"] == n and t0["counters"]["failed"] == 0
    per_object = 3  # 45 words / 15 per chunk
    assert t0["counters"]["written"] == n * per_object
    assert t1["counters"]["processed"] == t1["counters"]["written"] == n * per_object
    assert t2["counters"]["written"] == n * per_object
    for col, expected in ((a, n * per_object), (b, n * per_object), (c, n * per_object)):
        status, body, _ = api.get(f"/v1/collections/{col['collection_id']}")
        assert body["document_count"] == expected
    # lineage of a tier-2 document
    _, docs, _ = api.post("/v1/collections/stats/documents/list", json={"limit": 1})
    doc = docs["results"][0]
    assert doc["root_object_id"].startswith("obj_") and doc["source_type"] == "document"
    assert doc["source_collection_id"] == b["collection_id"]
    assert [p.split(":")[0] for p in doc["lineage_path"]] == ["bucket", "object", "collection", "document",
                                                              "collection", "document", "collection"]
    assert doc["word_count"] == 15 and doc["text"].isupper()
    assert {"label": "Long", "node_id": "long", "path": "Long"} in doc["taxonomy"]["topics"]
    # task view agrees
    status, task, _ = api.get(f"/v1/tasks/{trig['task_id']}")
    assert task["status"] == "COMPLETED" and task["progress"]["percent"] == 100.0
    # re-trigger on a unique_key bucket upserts: counts unchanged
    _, again, _ = api.post("/v1/collections/chunks/trigger", json={})
    assert wait_batch(api, again["batch_id"])["status"] == "COMPLETED"
    for col in (a, b, c):
        assert api.get(f"/v1/collections/{col['collection_id']}")[1]["document_count"] == n * per_object


def test_js_abuse_fails_only_those_records(api, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "evil"})
    modes = ["ok"] * 20 + ["throw", "loop", "memory", "recurse", "undefined"]
    load_objects(api, "evil", len(modes), lambda i: {"data": {"mode": modes[i], "i": i}})
    code = """
function transform(d) {
  if (d.mode === 'throw') { throw new Error('bad record ' + d.i); }
  if (d.mode === 'loop') { while (true) {} }
  if (d.mode === 'memory') { let a = ['x']; while (true) { a = a.concat(a); } }
  if (d.mode === 'recurse') { const f = (n) => f(n + 1) + 1; return {v: f(0)}; }
  if (d.mode === 'undefined') { return undefined; }
  return {i: d.i, ok: true};
}"""
    # An 8 MB heap makes the memory bomb fail with JS_MEMORY after ~30 ms of CPU; with 64 MB it
    # needs ~300 ms, and a time limit near that turned it into JS_TIMEOUT on a loaded machine.
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "evil-js", "source": {"type": "bucket", "bucket_id": "evil"},
        "feature_extractors": [{"feature_extractor_name": "js_transform",
                                "parameters": {"code": code, "limits": {"time_ms": 1000, "memory_mb": 8}}}]})
    assert status == 201, body
    w = start_worker(concurrency=1)
    _, trig, _ = api.post("/v1/collections/evil-js/trigger", json={})
    batch = wait_batch(api, trig["batch_id"])
    assert batch["status"] == "COMPLETED_WITH_ERRORS", batch
    assert batch["counters"]["processed"] == 20 and batch["counters"]["failed"] == 5
    assert set(batch["error_summary"]) == {"JS_ERROR", "JS_TIMEOUT", "JS_MEMORY", "JS_STACK", "JS_OUTPUT"}
    _, failed, _ = api.get(f"/v1/batches/{trig['batch_id']}/failed-documents")
    assert failed["pagination"]["total"] == 5
    throw = next(f for f in failed["results"] if f["code"] == "JS_ERROR")
    assert "bad record" in throw["message"] and throw["line"] == 3
    assert w.proc.poll() is None  # the worker survived


def test_empty_source_completes_at_once(api, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "empty"})
    api.post("/v1/collections", json={"collection_name": "nothing",
                                      "source": {"type": "bucket", "bucket_id": "empty"}})
    start_worker(concurrency=1)
    _, trig, _ = api.post("/v1/collections/nothing/trigger", json={})
    assert trig["object_count"] == 0
    batch = wait_batch(api, trig["batch_id"], timeout=30)
    assert batch["status"] == "COMPLETED" and batch["counters"]["processed"] == 0


def test_retry_failed_only_and_idempotency_key(api, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "flaky", "unique_key": {"fields": ["k"]}})
    load_objects(api, "flaky", 50, lambda i: {"data": {"k": i, "bad": i % 10 == 0}})
    api.post("/v1/collections", json={"collection_name": "picky", "source": {"type": "bucket", "bucket_id": "flaky"},
                                      "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {
                                          "code": "function transform(d){ if (d.bad) throw new Error('bad'); return {k: d.k}; }"}}]})
    start_worker(concurrency=1)
    s1, first, _ = api.post("/v1/collections/picky/trigger", json={}, headers={"Idempotency-Key": "abc"})
    s2, second, _ = api.post("/v1/collections/picky/trigger", json={}, headers={"Idempotency-Key": "abc"})
    assert first["batch_id"] == second["batch_id"]
    batch = wait_batch(api, first["batch_id"])
    assert batch["status"] == "COMPLETED_WITH_ERRORS" and batch["counters"]["failed"] == 5
    # fix the data, retry only what failed
    for i in range(0, 50, 10):
        assert api.post("/v1/buckets/flaky/objects", json={"data": {"k": i, "bad": False}})[0] == 200
    status, body, _ = api.post(f"/v1/batches/{first['batch_id']}/retry", json={"retry_mode": "failed_only"})
    assert status == 200, body
    batch = wait_batch(api, first["batch_id"])
    assert batch["status"] == "COMPLETED", batch
    assert batch["counters"]["processed"] == 50 and batch["counters"]["failed"] == 0
    assert api.get("/v1/collections/picky")[1]["document_count"] == 50
