"""Strange and concurrent input: always a clear 4xx naming the field path (or success),
never a 500. Real MongoDB, the Flask app in-process."""
from __future__ import annotations

import json
import threading

import pytest


BIG = 19297523213210910457856


def raw(api, method: str, path: str, text: str):
    resp = api.client.open(path, method=method, data=text, content_type="application/json",
                           headers=api.headers())
    return resp.status_code, resp.get_json(silent=True)


def assert_400_at(status, body, path):
    assert status == 400, body
    assert path in [d["path"] for d in body["error"]["details"]], body


@pytest.mark.parametrize("body,path", [
    ({"bucket_name": "b", "metadata": {"a\u0000b": 1}}, "metadata.a\u0000b"),
    ({"bucket_name": "b", "metadata": {"n": BIG}}, "metadata.n"),
    ({"bucket_name": "b", "metadata": {"s": "\ud800"}}, "metadata.s"),
    ({"bucket_name": "b", "metadata": {"x": {"$where": 1}}}, "metadata.x.$where"),
])
def test_unstorable_values_in_any_stored_body_are_400(api, body, path):
    status, resp = raw(api, "POST", "/v1/buckets", json.dumps(body))
    assert_400_at(status, resp, path)


def test_namespace_bodies_too(admin):
    status, body = raw(admin, "POST", "/v1/namespaces", json.dumps({"namespace_name": "n", "metadata": {"a\x00": 1}}))
    assert_400_at(status, body, "metadata.a\x00")
    status, body = raw(admin, "POST", "/v1/namespaces", '{"namespace_name": "n", "metadata": {"x": NaN}}')
    assert_400_at(status, body, "metadata.x")


def test_object_data_and_metadata_follow_the_field_name_rule(api):
    assert api.post("/v1/buckets", json={"bucket_name": "things", "unique_key": {"fields": ["k"]}})[0] == 201
    cases = [({"data": {"a\u0000b": 1}}, "data.a\u0000b"), ({"data": {"k": 1, "n": {"a.b": 1}}}, "data.n.a.b"),
             ({"data": {"k": 1, "$x": 1}}, "data.$x"), ({"data": {"k": 1}, "metadata": {"": 1}}, "metadata."),
             ({"data": {"k": BIG}}, "data.k")]
    for body, path in cases:
        assert_400_at(*raw(api, "POST", "/v1/buckets/things/objects", json.dumps(body)), path)
    status, body = raw(api, "POST", "/v1/buckets/things/objects/batch", json.dumps(
        {"objects": [{"data": {"k": 1}}, {"data": {"k": 2, "bad": {"x\u0000": 1}}}]}))
    assert_400_at(status, body, "objects.1.data.bad.x\u0000")
    status, obj, _ = api.post("/v1/buckets/things/objects", json={"data": {"k": 1}})
    assert status == 201
    oid = obj["object_id"]
    assert_400_at(*raw(api, "PATCH", f"/v1/buckets/things/objects/{oid}",
                       json.dumps({"data": {"a.b": 1}})), "data.a.b")
    assert_400_at(*raw(api, "PUT", f"/v1/buckets/things/objects/{oid}",
                       json.dumps({"data": {"k": 1}, "metadata": {"$m": 1}})), "metadata.$m")
    # nothing unstorable got in
    assert api.post("/v1/buckets/things/objects/list", json={})[1]["pagination"]["total"] == 1


def test_deeply_nested_json_is_400(api):
    status, body = raw(api, "POST", "/v1/buckets", '{"bucket_name": "d", "metadata": ' + "[" * 100000 + "]" * 100000 + "}")
    assert status == 400 and body["error"]["code"] in ("malformed_json", "validation_error"), body
    deep = '{"bucket_name": "d", "metadata": {"x": ' + "[" * 150 + "]" * 150 + "}}"
    status, body = raw(api, "POST", "/v1/buckets", deep)
    assert status == 400 and "levels deep" in body["error"]["details"][0]["message"], body


def test_dollar_sort_field_is_400(api):
    api.post("/v1/buckets", json={"bucket_name": "s"})
    for field in ("$where", "data.$x", "a..b"):
        status, body, _ = api.post("/v1/buckets/s/objects/list", json={"sort": {"field": field}})
        assert_400_at(status, body, "sort.field")
    assert api.post("/v1/buckets/s/objects/list", json={"sort": {"field": "data.n"}})[0] == 200


def test_concurrent_writers_of_the_same_new_keys_all_succeed(api):
    """16 clients post the same 100 new keys at once: upserts all succeed (one creates each
    key, the others update it); inserts answer 409 per item for the keys others created."""
    assert api.post("/v1/buckets", json={"bucket_name": "race", "unique_key": {"fields": ["k"]}})[0] == 201
    assert api.post("/v1/buckets", json={"bucket_name": "race-insert", "unique_key": {
        "fields": ["k"], "default_policy": "insert"}})[0] == 201
    for bucket, rounds in (("race", 3), ("race-insert", 1)):
        for r in range(rounds):
            objects = [{"data": {"k": f"{bucket}-{r}-{i}", "v": i}} for i in range(100)]
            results: list = []
            barrier = threading.Barrier(16)

            def post():
                client = api.client.application.test_client()
                barrier.wait(timeout=30)
                resp = client.post(f"/v1/buckets/{bucket}/objects/batch", json={"objects": objects},
                                   headers=api.headers())
                results.append((resp.status_code, resp.get_json()))

            threads = [threading.Thread(target=post) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert len(results) == 16 and {s for s, _ in results} == {200}, [b for s, b in results if s != 200][:1]
            outcomes: dict[str, int] = {}
            for _, body in results:
                for item in body["results"]:
                    outcomes[item["outcome"]] = outcomes.get(item["outcome"], 0) + 1
            if bucket == "race":
                assert outcomes.get("created", 0) == 100 and outcomes.get("updated", 0) == 1500, outcomes
                assert all(item["object_id"] for _, b in results for item in b["results"])
            else:
                assert outcomes == {"created": 100, "conflict": 1500}, outcomes
        total = api.post(f"/v1/buckets/{bucket}/objects/list", json={})[1]["pagination"]["total"]
        assert total == 100 * rounds


def test_javascript_that_writes_a_global_is_refused_with_the_global_named(api):
    api.post("/v1/buckets", json={"bucket_name": "js"})
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "globals", "source": {"type": "bucket", "bucket_id": "js"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {
            "code": "count = 0;\nfunction transform(d) { return {c: count}; }"}}]})
    assert status == 400 and body["error"]["details"][0]["path"].endswith("parameters.code"), body
    assert "undeclared global 'count'" in body["error"]["details"][0]["message"]


def test_patching_a_pipeline_with_a_source_that_names_no_connection_is_400(api):
    """Found by the fuzzer: a partial load makes nested objects partial too, and the
    missing connection_id was a KeyError (500)."""
    api.post("/v1/buckets", json={"bucket_name": "p"})
    api.post("/v1/collections", json={"collection_name": "pc", "source": {"type": "bucket", "bucket_id": "p"}})
    src = api.post("/v1/connections", json={"name": "s", "type": "bucket", "config": {"bucket_id": "p"}})[1]
    dst = api.post("/v1/connections", json={"name": "d", "type": "collection", "config": {"collection_id": "pc"}})[1]
    _, pipe, _ = api.post("/v1/pipelines", json={"code": "function transform(r) { return r; }",
                                                 "source": {"connection_id": src["connection_id"]},
                                                 "destination": {"connection_id": dst["connection_id"]}})
    status, body, _ = api.patch(f"/v1/pipelines/{pipe['pipeline_id']}",
                                json={"destination": {"connection_id": ""}, "source": {}})
    assert status == 400, body
    assert {d["path"] for d in body["error"]["details"]} == {"source.connection_id", "destination.connection_id"}
