"""The API gaps an SDK runs into (issue 10), each checked on real MongoDB: list routes honour
limit/cursor from the query string, a 400 lists every problem at once, a resource addressed by
its globally unique id needs no X-Namespace, and a pipeline creates its missing destination
collection."""
from __future__ import annotations

import pytest


BAD_FILTER = {"AND": [{"field": "name", "operator": "equals", "value": 1}]}


@pytest.fixture
def buckets(api):
    for i in range(5):
        status, body, _ = api.post("/v1/buckets", json={"bucket_name": f"b{i}"})
        assert status == 201, body
    return api


def test_post_list_honours_limit_and_cursor_in_the_query_string(buckets):
    status, first, _ = buckets.post("/v1/buckets/list?limit=2", json={})
    assert status == 200 and len(first["results"]) == 2 and first["pagination"]["limit"] == 2
    cursor = first["pagination"]["next_cursor"]
    status, second, _ = buckets.post(f"/v1/buckets/list?limit=2&cursor={cursor}", json={})
    assert status == 200 and len(second["results"]) == 2
    assert {b["bucket_id"] for b in first["results"]}.isdisjoint(b["bucket_id"] for b in second["results"])
    status, empty_body, _ = buckets.post("/v1/buckets/list?limit=3")  # no body at all
    assert status == 200 and len(empty_body["results"]) == 3


def test_post_list_refuses_bad_or_contradictory_query_paging(buckets):
    status, body, _ = buckets.post("/v1/buckets/list?limit=0", json={})
    assert status == 400 and [d["path"] for d in body["error"]["details"]] == ["limit"]
    status, body, _ = buckets.post("/v1/buckets/list?limit=2", json={"limit": 3})
    assert status == 400 and body["error"]["details"][0]["path"] == "limit"
    assert "query string" in body["error"]["details"][0]["message"]
    status, body, _ = buckets.post("/v1/buckets/list?limit=2", json={"limit": 2})
    assert status == 200 and len(body["results"]) == 2


@pytest.mark.parametrize("path", ["/v1/buckets/list", "/v1/collections/list", "/v1/buckets/b0/objects/list"])
def test_a_400_reports_the_unknown_field_and_the_bad_filter_together(buckets, path):
    status, body, _ = buckets.post(path, json={"bogus": 1, "filters": BAD_FILTER})
    assert status == 400, body
    paths = {d["path"] for d in body["error"]["details"]}
    assert "bogus" in paths and any(p.startswith("filters.AND.0") for p in paths), paths


def test_collection_and_trigger_bodies_report_every_problem_at_once(buckets):
    status, body, _ = buckets.post("/v1/collections", json={
        "collection_name": "c", "bogus": True, "source": {"type": "bucket", "bucket_id": "b0", "filters": BAD_FILTER}})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert "bogus" in paths and any(p.startswith("source.filters.AND.0") for p in paths), paths
    status, col, _ = buckets.post("/v1/collections", json={"collection_name": "c",
                                                           "source": {"type": "bucket", "bucket_id": "b0"}})
    assert status == 201, col
    status, body, _ = buckets.post("/v1/collections/c/trigger", json={"bogus": 1, "source_filters": BAD_FILTER})
    paths = {d["path"] for d in body["error"]["details"]}
    assert status == 400 and "bogus" in paths and any(p.startswith("source_filters.AND.0") for p in paths), paths


def test_resources_addressed_by_global_id_need_no_namespace_header(admin, api):
    status, bucket, _ = api.post("/v1/buckets", json={"bucket_name": "docs"})
    status, obj, _ = api.post("/v1/buckets/docs/objects", json={"data": {"t": "x"}})
    status, col, _ = api.post("/v1/collections", json={"collection_name": "c",
                                                       "source": {"type": "bucket", "bucket_id": "docs"}})
    status, trig, _ = api.post("/v1/collections/c/trigger", json={})
    assert status == 200, trig
    bare = admin.as_(namespace="")
    for path in (f"/v1/batches/{trig['batch_id']}", f"/v1/tasks/{trig['task_id']}",
                 f"/v1/buckets/{bucket['bucket_id']}", f"/v1/collections/{col['collection_id']}",
                 f"/v1/buckets/{bucket['bucket_id']}/objects/{obj['object_id']}",
                 f"/v1/buckets/docs/objects/{obj['object_id']}"):
        status, body, _ = bare.get(path)
        assert status == 200, (path, body)
    # Names are not unique across namespaces: they still need the header.
    status, body, _ = bare.get("/v1/buckets/docs")
    assert status == 400 and body["error"]["code"] == "namespace_required"


def test_a_global_id_of_a_namespace_the_key_may_not_see_is_404(admin, api):
    status, other, _ = admin.post("/v1/namespaces", json={"namespace_name": "other"})
    status, key, _ = admin.post("/v1/api-keys", json={"name": "k", "namespaces": ["other"]})
    status, bucket, _ = api.post("/v1/buckets", json={"bucket_name": "private"})
    scoped = admin.as_(key=key["secret"], namespace="")
    status, body, _ = scoped.get(f"/v1/buckets/{bucket['bucket_id']}")
    assert status == 404 and body["error"]["code"] == "bucket_not_found", body
    status, body, _ = scoped.get("/v1/batches/bat_0000000000000nothing")
    assert status == 404 and body["error"]["code"] == "batch_not_found", body
    assert admin.as_(namespace="").get(f"/v1/buckets/{bucket['bucket_id']}")[0] == 200


def test_a_pipeline_creates_its_missing_destination_collection(api):
    api.post("/v1/buckets", json={"bucket_name": "src"})
    _, src, _ = api.post("/v1/connections", json={"name": "in", "type": "bucket", "config": {"bucket_id": "src"}})
    _, dst, _ = api.post("/v1/connections", json={"name": "out", "type": "collection"})
    body = {"alias": "p", "code": "function execute() { return true; }",
            "source": {"connection_id": src["connection_id"], "filters": {"foo": "bar"}},
            "destination": {"connection_id": dst["connection_id"], "collection": "data_bucket",
                            "metadata": {"type": "storage"}}}
    status, made, _ = api.post("/v1/pipelines", json=body)
    assert status == 201, made
    created = made["created"]["destination_collection"]
    assert created["collection_name"] == "data_bucket" and created["collection_id"].startswith("col_")
    status, col, _ = api.get("/v1/collections/data_bucket")
    assert status == 200 and col["feature_extractors"] == [] and col["collection_id"] == created["collection_id"]
    status, again, _ = api.post("/v1/pipelines", json={**body, "alias": "p2"})
    assert status == 201 and "created" not in again  # it exists now: nothing to create
    status, bad, _ = api.post("/v1/pipelines", json={**body, "alias": "p3", "code": "function execute( {",
                                                     "destination": {**body["destination"], "collection": "other"}})
    assert status == 400 and api.get("/v1/collections/other")[0] == 404  # a refused pipeline creates nothing
    status, bad, _ = api.post("/v1/pipelines", json={**body, "destination": {**body["destination"],
                                                                            "collection": "not a name!"}})
    assert status == 400 and bad["error"]["details"][0]["path"] == "destination.collection"
