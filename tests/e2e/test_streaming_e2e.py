"""Streaming pipelines end to end: real replica-set mongod (change streams), Redis and Celery
worker processes. Snapshot, then inserts/updates/deletes, STOP, changes while stopped, START
again from the saved token — checked by comparing whole sources and targets."""
from __future__ import annotations

import secrets

import pytest

from shared.connectors.internal import pipeline_document_id
from tests.support.pipelines import connection
from tests.support.streaming import (ApplyingReceiver, WORKER_QUEUES, command, converge, counted,
                                     create_pipeline, follow_status, mirror_of)

ORDER = ["STARTING", "SNAPSHOTTING", "STREAMING"]


def is_subsequence(seen: list[str], order: list[str]) -> bool:
    it = iter(order)
    return all(s in it for s in seen)


@pytest.fixture
def ext_dbs(mongo_client):
    names = (f"stream_src_{secrets.token_hex(3)}", f"stream_dst_{secrets.token_hex(3)}")
    yield mongo_client[names[0]], mongo_client[names[1]]
    for n in names:
        mongo_client.drop_database(n)


def test_external_mongodb_to_mongodb(api, services, ext_dbs, start_worker):
    src_db, dst_db = ext_dbs
    src, dst = src_db["items"], dst_db["items_copy"]
    src.insert_many([{"n": i, "name": f"item {i}", "tags": ["a", str(i % 3)]} for i in range(1000)])
    src_conn = connection(api, "ext-src", "mongodb", {"uri": services.mongo_url, "database": src_db.name,
                                                      "collection": "items"})
    dst_conn = connection(api, "ext-dst", "mongodb", {"uri": services.mongo_url, "database": dst_db.name})
    url = create_pipeline(api, {
        "name": "mirror", "streamingSource": {"connection": {"connectionId": src_conn}},
        "streamingTarget": {"connection": {"connectionId": dst_conn}, "collection": "items_copy"},
        "advancedProperties": {"maxBatchSize": 100, "maxBatchWaitMs": 200}})
    worker = start_worker(queues=WORKER_QUEUES, concurrency=2)

    status, env, _ = api.get("/v1/projects/default-ns/environments")
    assert status == 200 and env["defaultAgentId"] == "streaming"
    agent = env["results"][0]
    assert agent["agentId"] == agent["queue"] == "streaming"
    assert worker.name in [w["name"] for w in agent["workers"]]
    assert agent["workersOnline"] >= 1 and agent["concurrency"] >= 2

    seen: list[str] = []
    assert command(api, url, "START")["status"] == "STARTING"
    st = follow_status(api, url, {"STREAMING"}, 60, seen)
    print(f"mongodb->mongodb: polled status sequence {seen}; history {[h['status'] for h in st['history']]}")
    assert seen[-1] == "STREAMING" and is_subsequence(seen, ORDER), seen
    assert [h["status"] for h in st["history"]] == ORDER
    assert st["counters"]["snapshotRows"] == 1000 and st["counters"]["failed"] == 0, st
    assert mirror_of(dst) == mirror_of(src)

    # inserts, updates (modifier and replacement) and deletes flow through
    src.insert_many([{"n": 1000 + i, "name": "new"} for i in range(50)])
    src.update_many({"n": {"$lt": 20}}, {"$set": {"name": "renamed"}, "$inc": {"n": 5000}})
    for i in range(20, 30):
        src.replace_one({"n": i}, {"n": i, "replaced": True})
    src.delete_many({"n": {"$gte": 30, "$lt": 50}})
    converge(lambda: mirror_of(src), lambda: mirror_of(dst), 30, "live changes in the target")
    st = counted(api, url, "changesCaptured", 100)
    assert st["counters"]["changesCaptured"] == 100 and st["lastEventTime"] is not None, st
    assert st["lagSeconds"] is not None

    assert command(api, url, "STOP")["status"] in ("STOPPING", "NOT_RUNNING")
    follow_status(api, url, {"NOT_RUNNING"}, 30)

    # changes while stopped are picked up from the saved token: none lost, none twice
    src.insert_many([{"_id": f"str-{i}", "n": 2000 + i} for i in range(10)])   # other _id types too
    src.update_many({"n": {"$gte": 100, "$lt": 110}}, {"$set": {"late": True}})
    src.delete_many({"n": {"$gte": 200, "$lt": 210}})
    assert mirror_of(dst) != mirror_of(src)
    seen = []
    assert command(api, url, "START", snapshot=False)["status"] == "STARTING"
    st = follow_status(api, url, {"STREAMING"}, 30, seen)
    print(f"mongodb->mongodb restart (snapshot false): polled {seen}")
    assert [h["status"] for h in st["history"]][-2:] == ["STARTING", "STREAMING"], st["history"]
    converge(lambda: mirror_of(src), lambda: mirror_of(dst), 30, "changes made while stopped")
    st = counted(api, url, "applied", 30)
    assert st["counters"] == {"snapshotRows": 0, "changesCaptured": 30, "applied": 30, "failed": 0}, st
    assert st["mode"] == "stream"
    command(api, url, "STOP")
    follow_status(api, url, {"NOT_RUNNING"}, 30)


def _objects(db, bucket_id: str) -> list[dict]:
    return list(db.objects.find({"bucket_id": bucket_id}))


def _expected(db, bucket_id: str) -> dict[str, dict]:
    """transform(filter(source)): void orders are filtered out."""
    return {o["_id"]: {"sku": o["data"]["sku"], "qty2": o["data"]["qty"] * 2}
            for o in _objects(db, bucket_id) if o["data"].get("status") != "void"}


def test_bucket_to_collection_and_to_webhook(api, app, mongo_client, settings, start_worker):
    db = mongo_client[settings.mongo_db]
    receiver = ApplyingReceiver()
    try:
        _bucket_pipelines(api, db, receiver, start_worker)
    finally:
        receiver.close()


def _bucket_pipelines(api, db, receiver, start_worker):
    bucket = api.post("/v1/buckets", json={"bucket_name": "orders", "unique_key": {"fields": ["sku"]}})[1]
    api.post("/v1/buckets", json={"bucket_name": "noise"})
    api.post("/v1/buckets/orders/objects/batch", json={"objects": [
        {"data": {"sku": f"s{i}", "qty": i, "status": "void" if i % 5 == 0 else "open"}} for i in range(200)]})
    noise = [api.post("/v1/buckets/noise/objects", json={"data": {"x": i}})[1]["object_id"] for i in range(10)]
    col = api.post("/v1/collections", json={"collection_name": "mirror",
                                            "source": {"type": "bucket", "bucket_id": "noise"}})[1]
    src = connection(api, "orders-src", "bucket", {"bucket_id": "orders"})
    dst = connection(api, "mirror-dst", "collection", {"collection_id": "mirror"})
    hook = connection(api, "hook", "webhook", {"url": receiver.url, "batch_size": 50})
    common = {"streamingSource": {"connection": {"connectionId": src}},
              "filters": {"field": "status", "operator": "ne", "value": "void"},
              "transformation": {"code": "function transform(r) { return {sku: r.sku, qty2: r.qty * 2}; }"},
              "advancedProperties": {"maxBatchSize": 50, "maxBatchWaitMs": 200}}
    to_col = create_pipeline(api, {"name": "to-collection", **common,
                                   "streamingTarget": {"connection": {"connectionId": dst}}})
    to_hook = create_pipeline(api, {"name": "to-webhook", **common,
                                    "streamingTarget": {"connection": {"connectionId": hook}}})
    col_pid = to_col.rsplit("/", 1)[1]

    def in_collection() -> dict[str, dict]:
        docs = db.documents.find({"collection_id": col["collection_id"], "pipeline_id": col_pid})
        out = {}
        for d in docs:
            assert d["_id"] == pipeline_document_id(col_pid, d["source_id"])
            out[d["source_id"]] = d["data"]
        return out

    start_worker(queues=WORKER_QUEUES, concurrency=2)
    for url in (to_col, to_hook):
        command(api, url, "START")
    for url in (to_col, to_hook):
        seen: list[str] = []
        st = follow_status(api, url, {"STREAMING"}, 60, seen)
        print(f"bucket {url.rsplit('/', 1)[1][:8]}: polled status sequence {seen}")
        assert is_subsequence(seen, ORDER) and [h["status"] for h in st["history"]] == ORDER, (seen, st)
        assert st["counters"]["snapshotRows"] == 200 and st["counters"]["applied"] == 160, st
    expected = lambda: _expected(db, bucket["bucket_id"])  # noqa: E731
    assert in_collection() == expected() and receiver.snapshot() == expected()

    def change_the_bucket(tag: str, n: int, deletes: list[int]) -> None:
        objs = {o["data"]["sku"]: o for o in _objects(db, bucket["bucket_id"])}
        for i in range(n):  # new orders
            api.post("/v1/buckets/orders/objects", json={"data": {"sku": f"{tag}{i}", "qty": i, "status": "open"}})
        for i in range(1, 11):  # quantity changes (upsert by unique key)
            api.post("/v1/buckets/orders/objects", json={"data": {"sku": f"s{i}", "qty": 1000 + i, "status": "open"}})
        api.post("/v1/buckets/orders/objects", json={"data": {"sku": "s11", "qty": 11, "status": "void"}})  # leaves
        api.post("/v1/buckets/orders/objects", json={"data": {"sku": "s10", "qty": 10, "status": "open"}})  # stays
        for i in deletes:
            assert api.delete(f"/v1/buckets/orders/objects/{objs[f's{i}']['_id']}")[0] in (200, 204)

    change_the_bucket("a", 10, [101, 102, 103, 104, 106, 107, 108, 109, 111, 112])
    for oid in noise[:5]:  # deletes in another bucket are not ours: never forwarded, never counted
        assert api.delete(f"/v1/buckets/noise/objects/{oid}")[0] in (200, 204)
    converge(expected, in_collection, 30, "bucket changes in the collection")
    converge(expected, receiver.snapshot, 30, "bucket changes at the webhook")
    assert not set(receiver.deleted) & set(noise)
    for url in (to_col, to_hook):
        command(api, url, "STOP")
    for url in (to_col, to_hook):
        follow_status(api, url, {"NOT_RUNNING"}, 30)

    change_the_bucket("b", 5, [121, 122, 123, 124, 126])  # while stopped
    api.delete(f"/v1/buckets/noise/objects/{noise[5]}")
    for url in (to_col, to_hook):
        command(api, url, "START", snapshot=False)
    converge(expected, in_collection, 30, "changes made while stopped, in the collection")
    converge(expected, receiver.snapshot, 30, "changes made while stopped, at the webhook")
    st = counted(api, to_col, "changesCaptured", 22)
    # 5 inserts + 12 updates + 5 deletes of ours; the noise delete is not counted (a bucket source
    # counts a delete as its own when the target held the key: these orders were not void)
    assert st["counters"]["changesCaptured"] == 22 and st["counters"]["snapshotRows"] == 0, st
    assert not set(receiver.deleted) & set(noise)
    for url in (to_col, to_hook):
        command(api, url, "STOP")
        follow_status(api, url, {"NOT_RUNNING"}, 30)
