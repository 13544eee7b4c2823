"""GET /metrics: what a Prometheus scrape sees after real work by a separate worker process."""
from __future__ import annotations

from shared.engine.streaming.definition import new_document
from tests.support.api import Api
from tests.support.batches import load_objects, wait_batch
from tests.support.metrics import scrape, value


def test_worker_counts_statuses_and_queues_reach_a_scrape(api, admin, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "m"})
    load_objects(api, "m", 30, lambda i: {"data": {"i": i}})
    _, col, _ = api.post("/v1/collections", json={
        "collection_name": "m-js", "source": {"type": "bucket", "bucket_id": "m"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {
            "code": "function transform(d) { if (d.i % 10 === 0) throw new Error('no'); return {i: d.i}; }"}}]})
    start_worker(concurrency=1)
    _, trig, _ = api.post("/v1/collections/m-js/trigger", json={})
    assert wait_batch(api, trig["batch_id"])["status"] == "COMPLETED_WITH_ERRORS"

    fams = scrape(admin)
    target = {"kind": "collection", "target": col["collection_id"]}
    assert value(fams, "sluice_records_processed", "sluice_records_processed_total", **target) == 27
    assert value(fams, "sluice_records_failed", "sluice_records_failed_total", code="JS_ERROR", **target) == 3
    # settings use chunks of 100: one chunk, one tier
    assert value(fams, "sluice_chunk_duration_seconds", "sluice_chunk_duration_seconds_count",
                 kind="collection") == 1
    assert value(fams, "sluice_tier_duration_seconds", "sluice_tier_duration_seconds_count", kind="batch") == 1
    assert value(fams, "sluice_batches_by_status", "sluice_batches_by_status",
                 status="COMPLETED_WITH_ERRORS") == 1
    assert value(fams, "sluice_queue_depth", "sluice_queue_depth", queue="default") == 0
    assert value(fams, "sluice_http_requests", "sluice_http_requests_total", method="POST",
                 route="/v1/collections/<collection>/trigger", status="200") == 1


def test_streaming_lag_and_statuses(app, admin):
    streaming = app.extensions["sluice.stores"].streaming
    running = new_document("sp_running", "ns_x", {"name": "orders-sync"})
    running.update(status="STREAMING", lag_seconds=1.25)
    stopped = new_document("sp_stopped", "ns_x", {"name": "old"})
    stopped["lag_seconds"] = 99.0       # a stopped pipeline's last lag is history, not a gauge
    streaming.coll.insert_many([running, stopped])

    fams = scrape(admin)
    assert value(fams, "sluice_streaming_lag_seconds", "sluice_streaming_lag_seconds",
                 pipeline="sp_running", name="orders-sync", namespace="ns_x") == 1.25
    assert value(fams, "sluice_streaming_lag_seconds", "sluice_streaming_lag_seconds", pipeline="sp_stopped") is None
    assert value(fams, "sluice_streaming_pipelines_by_status", "sluice_streaming_pipelines_by_status",
                 status="STREAMING") == 1
    assert value(fams, "sluice_streaming_pipelines_by_status", "sluice_streaming_pipelines_by_status",
                 status="NOT_RUNNING") == 1


def test_metrics_need_the_metrics_token_or_the_admin_key(settings, mongo_client):
    """/metrics lists every tenant's collection and pipeline ids: no tenant key may read it."""
    from api.app import create_app

    app = create_app(settings.with_(metrics_token="scrape-me"))
    try:
        admin = Api(app.test_client())
        _, _, _ = admin.post("/v1/namespaces", json={"namespace_name": "t"})
        _, key, _ = admin.post("/v1/api-keys", json={"name": "k", "namespaces": ["t"]})
        get = app.test_client().get
        assert get("/metrics").status_code == 401
        resp = get("/metrics", headers={"Authorization": f"Bearer {key['secret']}"})
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_metrics_token"
        for token in ("scrape-me", admin.key):
            resp = get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200 and b"sluice_batches_by_status" in resp.data
    finally:
        app.extensions["sluice.stores"].mongo.close()
        mongo_client.drop_database(settings.mongo_db)
