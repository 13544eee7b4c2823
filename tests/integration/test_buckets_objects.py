"""Buckets, objects, schemas and unique_key semantics against real MongoDB."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest


SCHEMA = {"properties": {"sku": {"type": "string"}, "title": {"type": "text"},
                         "price": {"type": "number"}, "qty": {"type": "integer"},
                         "seen": {"type": "datetime"}},
          "required": ["sku"]}


@pytest.fixture
def keyed(api):
    status, body, _ = api.post("/v1/buckets", json={
        "bucket_name": "products", "description": "d", "schema": SCHEMA,
        "unique_key": {"fields": ["sku"], "default_policy": "upsert"}})
    assert status == 201, body
    return body


def test_bucket_crud(api, keyed):
    assert keyed["bucket_id"].startswith("bkt_") and keyed["object_count"] == 0
    status, body, _ = api.get("/v1/buckets/products")
    assert status == 200 and body["unique_key"] == {"fields": ["sku"], "default_policy": "upsert"}
    status, body, _ = api.patch("/v1/buckets/products", json={"description": "new", "metadata": {"a": 1}})
    assert status == 200 and body["description"] == "new" and body["metadata"] == {"a": 1}
    status, body, _ = api.patch("/v1/buckets/products", json={"unique_key": {"fields": ["x"]}})
    assert status == 400 and body["error"]["details"][0] == {
        "path": "unique_key", "message": "is immutable after creation"}
    status, body, _ = api.post("/v1/buckets", json={"bucket_name": "products"})
    assert status == 409
    status, body, _ = api.post("/v1/buckets/list", json={"filters": {"bucket_name": "products"}})
    assert body["pagination"]["total"] == 1
    assert api.delete("/v1/buckets/products")[0] == 200
    assert api.get("/v1/buckets/products")[0] == 404


def test_bucket_validation_lists_every_problem(api):
    status, body, _ = api.post("/v1/buckets", json={
        "bucket_name": "bad name!", "extra": True,
        "schema": {"properties": {"a": {"type": "blob"}}, "required": ["zzz"]},
        "unique_key": {"fields": [], "default_policy": "sometimes"}})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert {"bucket_name", "extra", "unique_key.fields", "unique_key.default_policy"} <= paths
    status, body, _ = api.post("/v1/buckets", json={
        "bucket_name": "ok", "schema": {"properties": {"a": {"type": "blob"}}, "required": ["zzz"]}})
    assert status == 400
    assert {d["path"] for d in body["error"]["details"]} == {"schema.properties.a.type", "schema.required.0"}


def test_object_lifecycle_and_schema(api, keyed):
    b = keyed["bucket_id"]
    status, obj, _ = api.post(f"/v1/buckets/{b}/objects", json={
        "key_prefix": "catalog/", "metadata": {"src": "t"},
        "data": {"sku": "A1", "price": 2.5, "qty": 3, "seen": "2024-01-02T03:04:05Z"}})
    assert status == 201, obj
    assert obj["outcome"] == "created" and obj["object_id"].startswith("obj_")
    assert obj["status"] == "PENDING" and obj["created_at"].endswith("Z")
    assert obj["data"]["seen"] == "2024-01-02T03:04:05.000Z"
    oid = obj["object_id"]
    status, got, _ = api.get(f"/v1/buckets/{b}/objects/{oid}")
    assert got["data"]["sku"] == "A1"
    status, got, _ = api.patch(f"/v1/buckets/{b}/objects/{oid}", json={"data": {"qty": 4}})
    assert status == 200 and got["data"] == {**obj["data"], "qty": 4}
    assert got["updated_at"] >= obj["updated_at"]
    status, got, _ = api.put(f"/v1/buckets/{b}/objects/{oid}", json={"data": {"sku": "A1", "title": "t"}})
    assert got["data"] == {"sku": "A1", "title": "t"} and got["metadata"] == {}
    status, body, _ = api.post(f"/v1/buckets/{b}/objects", json={
        "data": {"price": "cheap", "qty": 1.5, "seen": "yesterday"}})
    assert status == 400
    assert {d["path"] for d in body["error"]["details"]} == {"data.sku", "data.price", "data.qty", "data.seen"}
    assert api.delete(f"/v1/buckets/{b}/objects/{oid}")[0] == 200
    assert api.get(f"/v1/buckets/{b}/objects/{oid}")[0] == 404
    assert api.delete(f"/v1/buckets/{b}/objects/{oid}")[0] == 404


def test_unique_key_policies(api, keyed):
    b = keyed["bucket_id"]
    s1, o1, _ = api.post(f"/v1/buckets/{b}/objects", json={"data": {"sku": "K", "qty": 1}})
    s2, o2, _ = api.post(f"/v1/buckets/{b}/objects", json={"data": {"sku": "K", "qty": 2}})
    assert (s1, o1["outcome"]) == (201, "created") and (s2, o2["outcome"]) == (200, "updated")
    assert o1["object_id"] == o2["object_id"] and o2["data"]["qty"] == 2
    assert o2["created_at"] == o1["created_at"]
    status, body, _ = api.post(f"/v1/buckets/{b}/objects?policy=insert", json={"data": {"sku": "K"}})
    assert status == 409 and body["error"]["code"] == "duplicate_unique_key"
    status, body, _ = api.post(f"/v1/buckets/{b}/objects?policy=update", json={"data": {"sku": "NEW"}})
    assert status == 404
    status, body, _ = api.post(f"/v1/buckets/{b}/objects?policy=sometimes", json={"data": {"sku": "Z"}})
    assert status == 400 and body["error"]["details"][0]["path"] == "policy"
    # changing the key to one another object holds is a conflict
    _, o3, _ = api.post(f"/v1/buckets/{b}/objects", json={"data": {"sku": "OTHER"}})
    status, body, _ = api.put(f"/v1/buckets/{b}/objects/{o3['object_id']}", json={"data": {"sku": "K"}})
    assert status == 409
    assert api.get(f"/v1/buckets/{b}")[1]["object_count"] == 2


def test_bucket_without_unique_key_always_creates(api):
    _, b, _ = api.post("/v1/buckets", json={"bucket_name": "plain"})
    for _ in range(3):
        status, body, _ = api.post("/v1/buckets/plain/objects", json={"data": {"same": 1}})
        assert status == 201
    assert api.get("/v1/buckets/plain")[1]["object_count"] == 3


def test_batch_validates_everything_before_writing(api, keyed):
    b = keyed["bucket_id"]
    status, body, _ = api.post(f"/v1/buckets/{b}/objects/batch", json={"objects": [
        {"data": {"sku": "ok"}}, {"data": {"price": 1}}, {"dta": {}}, {"data": {"sku": "x", "qty": "many"}}]})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert paths == {"objects.1.data.sku", "objects.2.dta", "objects.2.data", "objects.3.data.qty"}
    assert api.get(f"/v1/buckets/{b}")[1]["object_count"] == 0  # nothing half-written


def test_batch_outcomes_per_item(api, keyed):
    b = keyed["bucket_id"]
    api.post(f"/v1/buckets/{b}/objects", json={"data": {"sku": "existing"}})
    items = [{"data": {"sku": f"s{i}"}} for i in range(5)] + [{"data": {"sku": "existing", "qty": 9}},
                                                              {"data": {"sku": "s0", "qty": 1}}]
    status, body, _ = api.post(f"/v1/buckets/{b}/objects/batch", json={"objects": items})
    assert status == 200, body
    outcomes = [r["outcome"] for r in body["results"]]
    assert outcomes == ["created"] * 5 + ["updated", "updated"]
    assert body["results"][0]["object_id"] == body["results"][6]["object_id"]
    assert body["summary"] == {"created": 5, "updated": 2}
    status, body, _ = api.post(f"/v1/buckets/{b}/objects/batch",
                               json={"objects": [{"data": {"sku": "s1"}}, {"data": {"sku": "new"}}],
                                     "policy": "insert"})
    assert [r["outcome"] for r in body["results"]] == ["conflict", "created"]
    status, body, _ = api.post(f"/v1/buckets/{b}/objects/batch?policy=update",
                               json={"objects": [{"data": {"sku": "s2"}}, {"data": {"sku": "ghost"}}]})
    assert [r["outcome"] for r in body["results"]] == ["updated", "not_found"]
    assert api.get(f"/v1/buckets/{b}")[1]["object_count"] == 7


def test_batch_size_limit(app, api, keyed):
    limit = app.config["SLUICE_SETTINGS"].max_batch_objects
    objs = [{"data": {"sku": str(i)}} for i in range(limit + 1)]
    status, body, _ = api.post(f"/v1/buckets/{keyed['bucket_id']}/objects/batch", json={"objects": objs})
    assert status == 400 and body["error"]["details"][0]["path"] == "objects"


def test_list_objects_filters_sort_and_pages(api, keyed):
    b = keyed["bucket_id"]
    objs = [{"data": {"sku": f"p{i:02d}", "price": float(i), "title": "Red shoe" if i % 2 else "blue hat"}}
            for i in range(25)]
    assert api.post(f"/v1/buckets/{b}/objects/batch", json={"objects": objs})[0] == 200
    status, body, _ = api.post(f"/v1/buckets/{b}/objects/list", json={
        "filters": {"AND": [{"field": "price", "operator": "gte", "value": 10},
                            {"field": "title", "operator": "contains", "value": "RED"}]},
        "sort": {"field": "price", "direction": "asc"}, "limit": 4})
    assert status == 200, body
    assert body["pagination"]["total"] == 7
    prices = [o["data"]["price"] for o in body["results"]]
    cursor = body["pagination"]["next_cursor"]
    while cursor:
        _, body, _ = api.post(f"/v1/buckets/{b}/objects/list", json={
            "filters": {"AND": [{"field": "price", "operator": "gte", "value": 10},
                                {"field": "title", "operator": "contains", "value": "RED"}]},
            "sort": {"field": "price", "direction": "asc"}, "limit": 4, "cursor": cursor})
        prices += [o["data"]["price"] for o in body["results"]]
        cursor = body["pagination"]["next_cursor"]
    assert prices == [11.0, 13.0, 15.0, 17.0, 19.0, 21.0, 23.0]
    # keyset paging on created_at returns each object exactly once
    ids, cursor = [], None
    while True:
        _, body, _ = api.post(f"/v1/buckets/{b}/objects/list", json={"limit": 10, "cursor": cursor})
        ids += [o["object_id"] for o in body["results"]]
        cursor = body["pagination"]["next_cursor"]
        if not cursor:
            break
    assert len(ids) == 25 == len(set(ids))
    status, body, _ = api.post(f"/v1/buckets/{b}/objects/list", json={
        "filters": {"AND": [{"field": "price", "operator": "equals", "value": 1}]}})
    assert status == 400 and body["error"]["details"][0]["path"] == "filters.AND.0.operator"


def test_concurrent_upserts_create_one_object_per_key(app, api, keyed):
    b = keyed["bucket_id"]
    barrier = threading.Barrier(8)

    def writer(n: int) -> list[int]:
        own = api.as_()
        own.client = app.test_client()  # one client per thread; the app and stores are shared
        barrier.wait()
        return [own.post(f"/v1/buckets/{b}/objects", json={"data": {"sku": f"race-{k}", "qty": n}})[0]
                for k in range(10)]

    with ThreadPoolExecutor(8) as pool:
        results = [c for codes in pool.map(writer, range(8)) for c in codes]
    assert all(c in (200, 201) for c in results)
    assert results.count(201) == 10
    assert api.get(f"/v1/buckets/{b}")[1]["object_count"] == 10


def test_unique_key_lookups_use_the_unique_index(mongo_db):
    """The unique index is partial; a keyed query that does not imply its filter scanned the
    whole bucket, so loading N objects into a unique-key bucket cost O(N^2)."""
    from shared.stores.objects import ObjectStore

    store = ObjectStore(mongo_db)
    store.ensure_indexes()
    store.coll.insert_many([{"bucket_id": "bkt_x", "unique_hash": f"h{i}"} for i in range(50)])
    for query in (store.keyed("bkt_x", "h7"), store.keyed("bkt_x", ["h7", "h8"])):
        plan = store.coll.find(query).explain()["queryPlanner"]["winningPlan"]
        assert "bucket_id_1_unique_hash_1" in str(plan), plan
        assert len(list(store.coll.find(query))) == len(query["unique_hash"].get("$in", ["one"]))
