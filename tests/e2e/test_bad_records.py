"""Records of any shape fail alone, with a typed code, and never take their chunk, batch or
run down (real worker processes, real MongoDB and Redis)."""
from __future__ import annotations

import time


from tests.support.batches import load_objects, wait_batch
from tests.support.pipelines import connection, wait_run


# Every 5th record returns a key MongoDB cannot store (a NUL), every 7th a nested one, every
# 11th a field name against the rule; the others are fine.
BAD_KEYS_JS = """
function transform(d) {
  var o = {i: d.i, text: 'football goal'};
  if (d.i % 5 === 0) { o["a\\u0000b"] = 1; }
  else if (d.i % 7 === 0) { o.nested = {deeper: {}}; o.nested.deeper["x\\u0000y"] = 2; }
  else if (d.i % 11 === 0) { o["$where"] = 3; }
  return o;
}"""
N = 40
BAD = [i for i in range(N) if i % 5 == 0 or i % 7 == 0 or i % 11 == 0]


def test_unstorable_outputs_fail_only_their_records(api, start_worker):
    assert api.post("/v1/buckets", json={"bucket_name": "src"})[0] == 201
    load_objects(api, "src", N, lambda i: {"data": {"i": i}})
    status, tax, _ = api.post("/v1/taxonomies", json={"taxonomy_name": "topics", "nodes": [
        {"node_id": "sport", "label": "Sport", "rule": {"keywords": ["football"]}}]})
    assert status == 201, tax
    assert api.post("/v1/collections", json={"collection_name": "sports", "source": {"type": "bucket",
                                                                                       "bucket_id": "src"}})[0] == 201
    status, col, _ = api.post("/v1/collections", json={
        "collection_name": "odd-keys", "source": {"type": "bucket", "bucket_id": "src"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {"code": BAD_KEYS_JS}}],
        "taxonomy_applications": [{"taxonomy_id": "topics", "output_collection": "sports"}]})
    assert status == 201, col
    src = connection(api, "src-conn", "bucket", {"bucket_id": "src"})
    assert api.post("/v1/collections", json={"collection_name": "mirror", "source": {"type": "bucket",
                                                                                       "bucket_id": "src"}})[0] == 201
    dst = connection(api, "mirror-conn", "collection", {"collection_id": "mirror"})
    status, pipe, _ = api.post("/v1/pipelines", json={
        "alias": "odd", "transformation_code": BAD_KEYS_JS,
        "source": {"connection_id": src}, "destination": {"connection_id": dst}})
    assert status == 201, pipe
    start_worker(concurrency=1)

    _, trig, _ = api.post("/v1/collections/odd-keys/trigger", json={})
    batch = wait_batch(api, trig["batch_id"])
    assert batch["status"] == "COMPLETED_WITH_ERRORS", batch
    assert batch["counters"]["processed"] == N - len(BAD) and batch["counters"]["failed"] == len(BAD)
    assert batch["error_summary"] == {"INVALID_RECORD": len(BAD)}
    _, failed, _ = api.get(f"/v1/batches/{trig['batch_id']}/failed-documents?limit=100")
    messages = {f["message"] for f in failed["results"]}
    assert failed["pagination"]["total"] == len(BAD)
    assert any("data.a\x00b" in m and "NUL" in m for m in messages)
    assert any("data.nested.deeper.x\x00y" in m for m in messages)
    assert any("data.$where" in m and "'$'" in m for m in messages)
    # the good records of the same chunk are written, their taxonomy copies too
    assert api.get("/v1/collections/odd-keys")[1]["document_count"] == N - len(BAD)
    assert api.get("/v1/collections/sports")[1]["document_count"] == N - len(BAD)

    _, started, _ = api.post(f"/v1/pipelines/{pipe['pipeline_id']}/runs", json={})
    run = wait_run(api, started["id"])
    assert run["status"] == "COMPLETED_WITH_ERRORS", run
    # read, filter, transform pass everything; validate refuses the bad records, write the rest
    assert run["passed"] == [N, N, N, N - len(BAD), N - len(BAD)], run
    assert run["failed"] == [0, 0, 0, len(BAD), 0], run
    assert api.get("/v1/collections/mirror")[1]["document_count"] == N - len(BAD)


LOOP_JS = "function transform(d) { if (d.i >= 2) { while (true) {} } return {i: d.i}; }"


def test_a_run_of_time_outs_fails_the_rest_of_the_chunk_fast(api, start_worker):
    n = 30
    assert api.post("/v1/buckets", json={"bucket_name": "slow"})[0] == 201
    load_objects(api, "slow", n, lambda i: {"data": {"i": i}})
    params = {"code": LOOP_JS, "limits": {"time_ms": 200}}
    assert api.post("/v1/collections", json={
        "collection_name": "loops", "source": {"type": "bucket", "bucket_id": "slow"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": params}]})[0] == 201
    assert api.post("/v1/collections", json={"collection_name": "out", "source": {"type": "bucket",
                                                                                   "bucket_id": "slow"}})[0] == 201
    status, pipe, _ = api.post("/v1/pipelines", json={
        "alias": "loops", "transformation_code": LOOP_JS, "js_limits": {"time_ms": 200},
        "source": {"connection_id": connection(api, "slow-src", "bucket", {"bucket_id": "slow"})},
        "destination": {"connection_id": connection(api, "out-dst", "collection", {"collection_id": "out"})}})
    assert status == 201, pipe
    start_worker(concurrency=1, env={"SLUICE_FAIL_FAST_AFTER": "3", "SLUICE_CHUNK_SIZE": "100"})

    started = time.monotonic()
    _, trig, _ = api.post("/v1/collections/loops/trigger", json={})
    batch = wait_batch(api, trig["batch_id"])
    # 3 time-outs of 200 ms, then the other 25 at once: well under 28 x 200 ms
    assert time.monotonic() - started < 4.5
    assert batch["status"] == "COMPLETED_WITH_ERRORS"
    assert batch["counters"]["processed"] == 2 and batch["counters"]["failed"] == n - 2
    assert batch["error_summary"] == {"JS_TIMEOUT": n - 2}
    _, failed, _ = api.get(f"/v1/batches/{trig['batch_id']}/failed-documents?limit=100")
    skipped = [f for f in failed["results"] if f["message"].startswith("not run")]
    assert len(skipped) == n - 2 - 3 and "SLUICE_FAIL_FAST_AFTER" in skipped[0]["message"]

    _, run_started, _ = api.post(f"/v1/pipelines/{pipe['pipeline_id']}/runs", json={})
    run = wait_run(api, run_started["id"])
    assert run["status"] == "COMPLETED_WITH_ERRORS"
    assert run["failed"][2] == n - 2 and run["passed"][4] == 2, run
    _, errors, _ = api.get(f"/v1/pipelines/runs/{run_started['id']}/errors")
    skipped = [g for g in errors["results"] if g["message"].startswith("not run")]
    assert len(skipped) == 1 and skipped[0]["code"] == "JS_TIMEOUT" and skipped[0]["count"] == n - 2 - 3
