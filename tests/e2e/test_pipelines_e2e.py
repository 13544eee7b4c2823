"""Pipelines (seeds 000 and 001) with real Mongo, Redis, Celery worker and beat processes."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.timeutil import utcnow
from tests.support.batches import load_objects
from tests.support.http import Receiver
from tests.support.pipelines import connection, wait_run
from tests.support.waiting import wait_until


@pytest.fixture
def receiver():
    r = Receiver("s3cret")
    yield r
    r.close()


def test_seed_create_example_and_a_run_into_external_mongodb(api, services, mongo_client, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "raw"})
    load_objects(api, "raw", 40, lambda i: {"data": {"foo": "bar" if i % 4 == 0 else "BAR" if i % 4 == 1 else "baz",
                                                     "n": i}})
    src = connection(api, "raw-objects", "bucket", {"bucket_id": "raw"})
    dst = connection(api, "warehouse", "mongodb", {"uri": services.mongo_url, "database": "sluice_ext_dst"})
    seed = {"alias": "MyPipeline", "code": "function execute() { return true; }",
            "source": {"connection_id": src, "filters": {"foo": "bar"}},
            "destination": {"connection_id": dst, "collection": "data_bucket", "metadata": {"type": "storage"}}}
    status, body, _ = api.post("/v1/pipelines", json=seed)
    assert status == 201, body
    assert {"pipeline_id", "enabled", "connections", "metadata"} <= set(body)
    assert body["enabled"] is True and body["metadata"] == {}
    assert body["connections"]["source"]["connection_id"] == src
    assert body["connections"]["destination"]["collection"] == "data_bucket"
    start_worker(concurrency=2)
    status, started, _ = api.post(f"/v1/pipelines/{body['pipeline_id']}/runs", json={"incremental": False})
    assert status == 200 and set(started) == {"id"}
    run = wait_run(api, started["id"])
    assert run["status"] == "COMPLETED", run
    assert run["passed"] == [40, 20, 20, 20, 20] and run["failed"] == [0] * 5  # "bar" matches "BAR" too
    assert run["endTime"] is not None and run["error"] == ""
    try:
        docs = list(mongo_client["sluice_ext_dst"]["data_bucket"].find())
        assert len(docs) == 20 and {d["foo"].lower() for d in docs} == {"bar"}
        # a second full run upserts by key: still 20
        _, again, _ = api.post(f"/v1/pipelines/{body['pipeline_id']}/runs", json={})
        assert wait_run(api, again["id"])["status"] == "COMPLETED"
        assert mongo_client["sluice_ext_dst"]["data_bucket"].count_documents({}) == 20
    finally:
        mongo_client.drop_database("sluice_ext_dst")
    status, listed, _ = api.get(f"/v1/pipelines/runs?pipeline={body['pipeline_id']}")
    assert len(listed["runs"]) == 2 and listed["runs"][0]["pipeline"] == body["pipeline_id"]


def test_full_and_incremental_runs_from_a_bucket_into_a_collection(api, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "people", "unique_key": {"fields": ["email"]}})
    load_objects(api, "people", 30, lambda i: {"data": {"email": f"u{i}@x.io", "name": f"user {i}"}})
    api.post("/v1/collections", json={"collection_name": "directory",
                                      "source": {"type": "bucket", "bucket_id": "people"}})
    src = connection(api, "people-src", "bucket", {"bucket_id": "people"})
    dst = connection(api, "dir-dst", "collection", {"collection_id": "directory"})
    status, p, _ = api.post("/v1/pipelines", json={
        "alias": "sync", "transformation_code": "function transform(r) { return {email: r.email, upper: r.name.toUpperCase()}; }",
        "source": {"connection_id": src}, "destination": {"connection_id": dst},
        "update_time_field": "updated_at", "incremental": True})
    assert status == 201, p
    start_worker(concurrency=2)
    _, full, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={"incremental": False})
    run = wait_run(api, full["id"])
    assert run["passed"] == [30, 30, 30, 30, 30] and run["incremental"] is False
    assert api.get("/v1/collections/directory")[1]["document_count"] == 30
    # change 3, add 2; the pipeline's default is incremental
    for i in (1, 2, 3):
        api.post("/v1/buckets/people/objects", json={"data": {"email": f"u{i}@x.io", "name": f"renamed {i}"}})
    load_objects(api, "people", 2, lambda i: {"data": {"email": f"new{i}@x.io", "name": "new"}})
    _, inc, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={})
    run = wait_run(api, inc["id"])
    assert run["incremental"] is True and run["passed"][0] == 5, run
    assert api.get("/v1/collections/directory")[1]["document_count"] == 32
    _, docs, _ = api.post("/v1/collections/directory/documents/list",
                          json={"filters": {"upper": "RENAMED 2"}})
    assert docs["pagination"]["total"] == 1


def test_external_mongodb_source_to_webhook_with_js_abuse(api, services, mongo_client, receiver, start_worker):
    ext = mongo_client["sluice_ext_src"]
    modes = ["ok"] * 25 + ["throw", "loop", "memory", "recurse", "function"]
    ext.events.insert_many([{"i": i, "mode": m, "ts": utcnow()} for i, m in enumerate(modes)])
    try:
        src = connection(api, "ext", "mongodb", {"uri": services.mongo_url, "database": "sluice_ext_src",
                                                 "collection": "events"})
        hook = connection(api, "hook", "webhook", {"url": receiver.url, "secret": "s3cret", "batch_size": 10})
        # the secret is encrypted in MongoDB; the worker below still signs with the real one
        raw = api.client.application.extensions["sluice.stores"].connections.coll.find_one({"_id": hook})
        assert raw["config"]["secret"].startswith("enc:v1:") and "s3cret" not in str(raw)
        code = """
function transform(r) {
  if (r.mode === 'throw') throw new Error('nope ' + r.i);
  if (r.mode === 'loop') { while (true) {} }
  if (r.mode === 'memory') { let a = ['x']; while (true) { a = a.concat(a); } }
  if (r.mode === 'recurse') { const f = (n) => f(n + 1) + 1; return {v: f(0)}; }
  if (r.mode === 'function') return function () {};
  return {i: r.i};
}"""
        # An 8 MB heap makes the memory bomb fail with JS_MEMORY after ~30 ms of CPU; with 64 MB it
        # needs ~300 ms, and a time limit near that turned it into JS_TIMEOUT on a loaded machine.
        status, p, _ = api.post("/v1/pipelines", json={
            "code": code, "source": {"connection_id": src, "filters": {"AND": [
                {"field": "i", "operator": "lt", "value": 100}]}},
            "destination": {"connection_id": hook}, "js_limits": {"time_ms": 1000, "memory_mb": 8}})
        assert status == 201, p
        start_worker(concurrency=1)
        _, started, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={})
        run = wait_run(api, started["id"])
        assert run["status"] == "COMPLETED_WITH_ERRORS", run
        assert run["passed"] == [30, 30, 25, 25, 25] and run["failed"] == [0, 0, 5, 0, 0]
        assert sorted(r["i"] for r in receiver.records().values()) == list(range(25))
        assert all(k for k in receiver.keys)
        status, errors, _ = api.get(f"/v1/pipelines/runs/{started['id']}/errors")
        codes = {e["code"] for e in errors["results"]}
        assert codes == {"JS_ERROR", "JS_TIMEOUT", "JS_MEMORY", "JS_STACK", "JS_OUTPUT"}
        assert all(e["step"] == "transform" and e["count"] == 1 and e["last_occurrence"] for e in errors["results"])
    finally:
        mongo_client.drop_database("sluice_ext_src")


def test_seed_error_rules(api, admin):
    api.post("/v1/buckets", json={"bucket_name": "b"})
    src = connection(api, "s", "bucket", {"bucket_id": "b"})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
    dst = connection(api, "d", "collection", {"collection_id": "c"})
    _, p, _ = api.post("/v1/pipelines", json={"code": "function transform(r) { return r; }",
                                              "source": {"connection_id": src}, "destination": {"connection_id": dst}})
    pid = p["pipeline_id"]
    status, body, _ = api.post("/v1/pipelines/pipe_nope/runs", json={})
    assert status == 404 and body["error"]["message"] == "pipeline does not exist"
    status, body, _ = admin.as_(namespace="no-such-ns").post(f"/v1/pipelines/{pid}/runs", json={})
    assert status == 404 and body["error"]["message"] == "workspace does not exist"
    status, body, _ = api.post(f"/v1/pipelines/{pid}/runs", json={"incremental": True})
    assert status == 422 and body["error"]["message"] == "incremental requires an update time column"
    status, body, resp = api.put(f"/v1/pipelines/{pid}/status", json={"enabled": False})
    assert status == 204 and resp.data == b""
    status, body, _ = api.post(f"/v1/pipelines/{pid}/runs", json={})
    assert status == 422 and body["error"]["message"] == "pipeline is disabled"
    api.put(f"/v1/pipelines/{pid}/status", json={"enabled": True})
    status, first, _ = api.post(f"/v1/pipelines/{pid}/runs", json={})  # no worker: it stays in progress
    assert status == 200
    status, body, _ = api.post(f"/v1/pipelines/{pid}/runs", json={})
    assert status == 422 and body["error"]["message"] == "pipeline is already in progress"
    status, body, _ = api.patch(f"/v1/pipelines/{pid}", json={"alias": "x"})
    assert status == 409
    assert api.delete(f"/v1/pipelines/{pid}")[0] == 409
    # schedule validation
    status, body, _ = api.put(f"/v1/pipelines/{pid}/schedule", json={"period": "7m"})
    assert status == 400 and '"5m"' in body["error"]["details"][0]["message"]
    assert body["error"]["details"][0]["path"] == "period"
    assert api.put(f"/v1/pipelines/{pid}/schedule", json={"period": "1h"})[0] == 204
    got = api.get(f"/v1/pipelines/{pid}")[1]
    assert got["schedule"]["period"] == "1h" and got["next_run_at"]
    assert api.put(f"/v1/pipelines/{pid}/schedule", json={"period": None})[0] == 204
    assert api.get(f"/v1/pipelines/{pid}")[1]["schedule"] is None
    status, body, _ = api.put(f"/v1/pipelines/{pid}/schedule", json={})
    assert status == 400 and body["error"]["details"][0]["path"] == "period"
    assert api.get("/v1/pipelines/pipe_nope")[1]["error"]["message"] == "pipeline does not exist"
    assert api.delete("/v1/pipelines/pipe_nope")[0] == 404


def test_pipeline_validation_lists_every_problem(api):
    status, body, _ = api.post("/v1/pipelines", json={
        "code": "function transform(r) { return r", "source": {"connection_id": "conn_missing", "filters": {
            "AND": [{"field": "a", "operator": "zz", "value": 1}]}},
        "destination": {}, "js_limits": {"time_ms": 10 ** 9}, "surprise": True})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert {"destination.connection_id", "surprise"} <= paths
    status, body, _ = api.post("/v1/pipelines", json={
        "code": "function transform(r) { return r", "source": {"connection_id": "conn_missing", "filters": {
            "AND": [{"field": "a", "operator": "zz", "value": 1}]}},
        "destination": {"connection_id": "conn_gone"}, "js_limits": {"time_ms": 10 ** 9}})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert {"code", "source.connection_id", "destination.connection_id", "source.filters.AND.0.operator",
            "js_limits.time_ms"} <= paths
    status, body, _ = api.post("/v1/pipelines", json={"source": {"connection_id": "x"},
                                                      "destination": {"connection_id": "y"}})
    assert status == 400 and body["error"]["details"][0]["path"] == "transformation_code"


def test_scheduled_occurrence_fires_once_with_two_beats_and_disabled_ones_skip(api, mongo_client, settings,
                                                                               start_worker, start_beat):
    api.post("/v1/buckets", json={"bucket_name": "b"})
    load_objects(api, "b", 5, lambda i: {"data": {"i": i}})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
    src = connection(api, "s", "bucket", {"bucket_id": "b"})
    dst = connection(api, "d", "collection", {"collection_id": "c"})
    ids = []
    for alias in ("on", "off"):
        _, p, _ = api.post("/v1/pipelines", json={"alias": alias, "code": "function transform(r) { return r; }",
                                                  "source": {"connection_id": src},
                                                  "destination": {"connection_id": dst}})
        assert api.put(f"/v1/pipelines/{p['pipeline_id']}/schedule", json={"period": "5m"})[0] == 204
        ids.append(p["pipeline_id"])
    api.put(f"/v1/pipelines/{ids[1]}/status", json={"enabled": False})
    # make the next occurrence due now (as if the clock had reached it)
    due = utcnow() - timedelta(seconds=1)
    mongo_client[settings.mongo_db].pipelines.update_many({"_id": {"$in": ids}},
                                                          {"$set": {"schedule.next_run_at": due}})
    env = {"SLUICE_SCHEDULE_TICK_S": "0.3"}
    start_worker(concurrency=2, env=env)
    start_beat(env)
    start_beat(env)

    def settled():
        on, off = (api.get(f"/v1/pipelines/{i}")[1] for i in ids)
        return on["last_run"] and on["last_run"]["status"] == "COMPLETED" and off["skipped"] and (on, off)
    on, off = wait_until(settled, 60, interval=0.3, message="the scheduled occurrence")
    runs = api.get(f"/v1/pipelines/runs?pipeline={ids[0]}")[1]["runs"]
    assert len(runs) == 1 and runs[0]["trigger"] == "schedule"
    assert on["schedule"]["last_fired_at"] == off["schedule"]["last_fired_at"]
    assert on["next_run_at"] > on["schedule"]["last_fired_at"]
    assert off["skipped"][0]["reason"] == "pipeline is disabled"
    assert api.get(f"/v1/pipelines/runs?pipeline={ids[1]}")[1]["runs"] == []


def test_incremental_runs_from_external_mongodb_into_a_webhook(api, services, mongo_client, receiver,
                                                               start_worker):
    ext = mongo_client["sluice_ext_inc"]
    base = utcnow() - timedelta(hours=1)
    ext.orders.insert_many([{"_id": f"o{i}", "amount": i, "modified": base + timedelta(seconds=i)}
                            for i in range(20)])
    try:
        src = connection(api, "orders", "mongodb", {"uri": services.mongo_url, "database": "sluice_ext_inc",
                                                    "collection": "orders"})
        hook = connection(api, "hook", "webhook", {"url": receiver.url, "secret": "s3cret"})
        _, p, _ = api.post("/v1/pipelines", json={
            "code": "function transform(o) { return {order: o._id, cents: o.amount * 100}; }",
            "source": {"connection_id": src}, "destination": {"connection_id": hook},
            "update_time_field": "modified"})
        start_worker(concurrency=1)
        _, first, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={"incremental": True})
        assert wait_run(api, first["id"])["passed"] == [20] * 5  # no cursor yet: everything
        ext.orders.update_one({"_id": "o3"}, {"$set": {"amount": 300, "modified": utcnow()}})
        ext.orders.insert_one({"_id": "o99", "amount": 99, "modified": utcnow()})
        _, second, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={"incremental": True})
        run = wait_run(api, second["id"])
        assert run["passed"] == [2] * 5, run
        records = receiver.records()
        assert records["o3"]["cents"] == 30000 and records["o99"]["cents"] == 9900
        _, again, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={"incremental": True})
        assert wait_run(api, again["id"])["passed"] == [0] * 5  # nothing newer
    finally:
        mongo_client.drop_database("sluice_ext_inc")


def test_a_slow_run_chunk_over_external_mongodb_hands_on_its_remaining_records(api, app, services, mongo_client,
                                                                                 start_worker):
    # ObjectId keys, so the split bound goes through the external source's bound encoding.
    ext = mongo_client["sluice_ext_slow"]
    ext.events.insert_many([{"i": i} for i in range(20)])
    try:
        src = connection(api, "ext-slow", "mongodb", {"uri": services.mongo_url, "database": "sluice_ext_slow",
                                                       "collection": "events"})
        dst = connection(api, "out", "mongodb", {"uri": services.mongo_url, "database": "sluice_ext_slow"})
        _, p, _ = api.post("/v1/pipelines", json={
            "code": "function transform(r) { var t = Date.now(); while (Date.now() - t < 150) {} return {i: r.i}; }",
            "source": {"connection_id": src}, "destination": {"connection_id": dst, "collection": "out"}})
        start_worker(concurrency=1, env={"SLUICE_TASK_SOFT_TIME_LIMIT_S": "2", "SLUICE_TASK_TIME_LIMIT_S": "4"})
        _, started, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={})
        run = wait_run(api, started["id"], timeout=60)
        assert run["status"] == "COMPLETED", run["error"]
        assert run["passed"] == [20] * 5 and run["failed"] == [0] * 5
        assert sorted(d["i"] for d in ext.out.find()) == list(range(20))
        rows = list(app.extensions["sluice.stores"].runs.ledger.coll.find({"run_id": started["id"]}))
        assert len(rows) >= 2 and any(r.get("parent") for r in rows) and sum(r["size"] for r in rows) == 20
    finally:
        mongo_client.drop_database("sluice_ext_slow")
