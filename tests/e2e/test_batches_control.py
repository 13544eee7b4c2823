"""Cancel, the watchdog, trigger narrowing, taxonomy output collections, task views."""
from __future__ import annotations

import pytest

from shared.tasknames import WATCHDOG
from tests.support.batches import TERMINAL, load_objects, wait_batch
from tests.support.waiting import wait_until


SLOW_JS = "function transform(d) { const t = Date.now(); while (Date.now() - t < 5) {} return {k: d.k}; }"


def test_cancel_stops_a_running_batch(app, api, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "many"})
    load_objects(api, "many", 3000, lambda i: {"data": {"k": i}})
    api.post("/v1/collections", json={"collection_name": "slow", "source": {"type": "bucket", "bucket_id": "many"},
                                      "feature_extractors": [{"feature_extractor_name": "js_transform",
                                                              "parameters": {"code": SLOW_JS}}]})
    start_worker(concurrency=2)
    _, trig, _ = api.post("/v1/collections/slow/trigger", json={})
    wait_until(lambda: api.get(f"/v1/batches/{trig['batch_id']}")[1]["counters"]["processed"] > 0, 60,
               message="some progress")
    status, body, _ = api.delete(f"/v1/tasks/{trig['task_id']}")
    assert status == 200 and body["status"] == "CANCELED", body
    inspector = app.extensions["sluice.tasks"].app.control.inspect(timeout=1)
    wait_until(lambda: not any((inspector.active() or {"x": [1]}).values()), 60, interval=0.3,
               message="the worker to go idle")
    batch = api.get(f"/v1/batches/{trig['batch_id']}")[1]
    assert batch["status"] == "CANCELED"
    assert 0 < batch["counters"]["processed"] < 3000
    assert api.get("/v1/collections/slow")[1]["document_count"] == batch["counters"]["written"]
    status, body, _ = api.post(f"/v1/batches/{trig['batch_id']}/cancel")
    assert status == 409 and body["error"]["code"] == "batch_finished"
    # the poller stops on every terminal state
    _, task, _ = api.get(f"/v1/tasks/{trig['task_id']}")
    assert task["status"] in TERMINAL and task["task_type"] == "batch"


def test_watchdog_recovers_a_tier_whose_chunks_were_lost(app, api, start_worker, services):
    import redis

    if not services.started_redis:
        pytest.skip("needs a Redis the tests started (it deletes a queue)")
    api.post("/v1/buckets", json={"bucket_name": "lost"})
    load_objects(api, "lost", 500, lambda i: {"data": {"k": i}})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "lost"}})
    env = {"SLUICE_STALL_TIMEOUT_S": "1"}
    control = start_worker(queues="control", concurrency=1, env=env)
    _, trig, _ = api.post("/v1/collections/c/trigger", json={})
    wait_until(lambda: api.get(f"/v1/batches/{trig['batch_id']}")[1]["tiers"][0]["chunks"]["total"] == 5, 30,
               message="tier 0 planned")
    client = redis.Redis.from_url(services.redis_url)
    # chunk rows are written before the chord is published: wait for all five messages
    wait_until(lambda: client.llen("default") == 5, 30, message="the chunk messages to be queued")
    assert client.delete("default") == 1  # the chunk messages are gone, as if Redis lost them
    client.close()
    start_worker(queues="default", concurrency=1, env=env)
    sender = app.extensions["sluice.tasks"]

    def finished():
        sender.send(WATCHDOG)
        return api.get(f"/v1/batches/{trig['batch_id']}")[1]["status"] in TERMINAL
    wait_until(finished, 60, interval=1.0, message="the watchdog to recover the batch")
    batch = api.get(f"/v1/batches/{trig['batch_id']}")[1]
    assert batch["status"] == "COMPLETED" and batch["counters"]["processed"] == 500
    assert control.proc.poll() is None


def test_trigger_narrowing_documents_list_and_taxonomy_output(api, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "b1", "unique_key": {"fields": ["k"]}})
    api.post("/v1/buckets", json={"bucket_name": "b2"})
    load_objects(api, "b1", 30, lambda i: {"key_prefix": "even/" if i % 2 == 0 else "odd/",
                                           "data": {"k": i, "text": "football" if i < 10 else "rain"}})
    load_objects(api, "b2", 5, lambda i: {"data": {"k": 100 + i, "text": "football"}})
    api.post("/v1/collections", json={"collection_name": "sports-only",
                                      "source": {"type": "bucket", "bucket_id": "b1"}})
    api.post("/v1/taxonomies", json={"taxonomy_name": "t", "nodes": [
        {"node_id": "s", "label": "Sport", "rule": {"keywords": ["football"]}}]})
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "all", "source": {"type": "bucket", "bucket_id": ["b1", "b2"], "prefix_key": "even/",
                                             "filters": {"AND": [{"field": "k", "operator": "lt", "value": 20}]}},
        "taxonomy_applications": [{"taxonomy_id": "t", "output_collection": "sports-only"}]})
    assert status == 201, body
    start_worker(concurrency=1)
    # only objects 0..19 with an even/ prefix pass the collection's own source config: 10 objects
    _, trig, _ = api.post("/v1/collections/all/trigger", json={"include_buckets": ["b1"]})
    assert trig["source_bucket_ids"] == [api.get("/v1/buckets/b1")[1]["bucket_id"]]
    batch = wait_batch(api, trig["batch_id"])
    assert batch["status"] == "COMPLETED"
    assert batch["tiers"][0]["counters"]["fetched"] == 15       # prefix narrows in the query
    assert batch["tiers"][0]["counters"]["after_filter"] == 10  # the collection filter in the worker
    _, docs, _ = api.post("/v1/collections/all/documents/list",
                          json={"filters": {"AND": [{"field": "k", "operator": "gte", "value": 10}]}})
    assert sorted(d["k"] for d in docs["results"]) == [10, 12, 14, 16, 18]
    doc = docs["results"][0]
    assert api.get(f"/v1/collections/all/documents/{doc['document_id']}")[1]["k"] == doc["k"]
    # matches of the taxonomy went to the output collection
    _, sports, _ = api.post("/v1/collections/sports-only/documents/list", json={})
    assert sorted(d["k"] for d in sports["results"]) == [0, 2, 4, 6, 8]
    assert all(d["taxonomy"]["t"][0]["label"] == "Sport" for d in sports["results"])
    # object_ids and source_filters narrow tier 0; objects are marked PROCESSED
    ids = [o["object_id"] for o in api.post("/v1/buckets/b1/objects/list", json={"limit": 4, "sort": {
        "field": "k", "direction": "asc"}})[1]["results"]]
    _, trig2, _ = api.post("/v1/collections/all/trigger", json={"object_ids": ids})
    assert trig2["object_count"] == 2  # of k=0..3, two are even/
    _, trig3, _ = api.post("/v1/collections/all/trigger", json={"source_filters": {
        "AND": [{"field": "status", "operator": "eq", "value": "processed"}]}})
    assert trig3["object_count"] == 10  # case-insensitive, as the seed's "pending" example expects
    for t in (trig2, trig3):
        assert wait_batch(api, t["batch_id"])["status"] == "COMPLETED"
    status, listed, _ = api.post("/v1/batches/list", json={"status": ["COMPLETED"], "collection_id": "all"})
    assert listed["pagination"]["total"] == 3
    _, tasks, _ = api.post("/v1/tasks/list", json={})
    assert {t["batch_id"] for t in tasks["results"]} == {trig["batch_id"], trig2["batch_id"], trig3["batch_id"]}


def test_a_slow_chunk_hands_its_remaining_records_to_continuations(api, app, start_worker):
    # Soft limit 2 s -> a chunk works for 1 s, then splits; each record takes ~150 ms of JS.
    api.post("/v1/buckets", json={"bucket_name": "slow"})
    load_objects(api, "slow", 20, lambda i: {"data": {"i": i}})
    api.post("/v1/collections", json={
        "collection_name": "slow-js", "source": {"type": "bucket", "bucket_id": "slow"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {
            "code": "function transform(d) { var t = Date.now(); while (Date.now() - t < 150) {} return {i: d.i}; }"}}]})
    start_worker(concurrency=1, env={"SLUICE_TASK_SOFT_TIME_LIMIT_S": "2", "SLUICE_TASK_TIME_LIMIT_S": "4"})
    _, trig, _ = api.post("/v1/collections/slow-js/trigger", json={})
    batch = wait_batch(api, trig["batch_id"], timeout=60)
    assert batch["status"] == "COMPLETED", batch
    assert batch["counters"]["processed"] == 20 and batch["counters"]["failed"] == 0
    assert batch["tiers"][0]["progress"]["total"] == 20
    _, docs, _ = api.post("/v1/collections/slow-js/documents/list", json={"limit": 100})
    assert sorted(d["i"] for d in docs["results"]) == list(range(20))
    rows = list(app.extensions["sluice.stores"].batches.chunks.find({"batch_id": trig["batch_id"]}))
    assert len(rows) >= 2 and all(r["done"] for r in rows)           # split at least once
    assert sum(r["size"] for r in rows) == 20 and sum(r["counts"]["fetched"] for r in rows) == 20
    assert any(r.get("parent") for r in rows)


def test_a_split_chunk_redelivered_keeps_its_split_and_recreates_lost_continuations(app, api, settings):
    """A worker died after recording a split but before writing the continuation row: the
    redelivered chunk reads only up to the split and writes the continuation again, and
    every record is counted exactly once."""
    from shared.engine.batch import batches as engine
    from shared.engine.batch.chunk import process_chunk

    stores = app.extensions["sluice.stores"]
    api.post("/v1/buckets", json={"bucket_name": "sp"})
    load_objects(api, "sp", 30, lambda i: {"data": {"i": i}})
    api.post("/v1/collections", json={"collection_name": "sp-c", "source": {"type": "bucket", "bucket_id": "sp"}})
    _, trig, _ = api.post("/v1/collections/sp-c/trigger", json={})
    engine.start(stores, trig["batch_id"])
    [chunk_id] = engine.launch_tier(stores, settings, trig["batch_id"], 0)
    chunk = stores.batches.chunk(chunk_id)
    ids = sorted(o["_id"] for o in stores.objects.coll.find({}, {"_id": 1}))
    split = stores.batches.split_chunk(chunk, ids[12], 12)
    stores.batches.chunks.delete_one({"_id": split["continuations"][0]["_id"]})   # "died" here

    first = process_chunk(stores, settings, chunk_id)                # the redelivery
    assert first["fetched"] == 12 and first["continuations"] == [f"{chunk_id}+1"]
    rest = process_chunk(stores, settings, f"{chunk_id}+1")
    assert rest["fetched"] == 18 and "continuations" not in rest
    assert process_chunk(stores, settings, chunk_id) == {"skipped": True}
    assert engine.finish_tier(stores, trig["batch_id"], 0) == "done"
    stats = stores.batches.tier_stats(trig["batch_id"])[0]
    assert stats["counts"]["processed"] == 30 and stats["total"] == 30 and stats["chunks_total"] == 2
    assert stores.documents.count([stores.collections.find(stores.batches.get(trig["batch_id"])["namespace_id"],
                                                           "sp-c")["_id"]]) == 30


def test_heartbeats_are_throttled_per_process_and_batch(mongo_db):
    from datetime import datetime

    from shared.stores.batches import BatchStore

    store = BatchStore(mongo_db)
    old = datetime(2020, 1, 1)
    store.coll.insert_many([{"_id": b, "heartbeat_at": old, "redispatches": 2} for b in ("bat_a", "bat_b")])
    store.heartbeat("bat_a", 60)
    assert store.coll.find_one({"_id": "bat_a"})["heartbeat_at"] > old
    store.coll.update_one({"_id": "bat_a"}, {"$set": {"heartbeat_at": old}})
    store.heartbeat("bat_a", 60)                       # within the interval: no write
    assert store.coll.find_one({"_id": "bat_a"})["heartbeat_at"] == old
    store.heartbeat("bat_b", 60)                       # another batch has its own clock
    assert store.coll.find_one({"_id": "bat_b"})["redispatches"] == 0
    store.heartbeat("bat_a")                           # unthrottled callers always write
    assert store.coll.find_one({"_id": "bat_a"})["heartbeat_at"] > old
