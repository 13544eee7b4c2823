"""Polling a batch: a completed attempt's figures are stored with it, so a poll of a finished
batch reads one row instead of summing every chunk row; a running or retried batch is
summed live. Driven through the plain engine functions (no worker needed)."""
from __future__ import annotations

from tests.support.batches import load_objects, run_batch


FAIL_SOME = "function transform(d) { if (d.i % 7 === 0) throw new Error('seven'); return {i: d.i}; }"


def test_a_finished_batch_is_polled_from_its_stored_figures_until_retried(app, api, settings):
    from shared.engine.batch import batches as engine
    from shared.engine.batch.progress import render_batch

    stores = app.extensions["sluice.stores"]
    api.post("/v1/buckets", json={"bucket_name": "polls"})
    load_objects(api, "polls", 250, lambda i: {"data": {"i": i}})
    api.post("/v1/collections", json={
        "collection_name": "p0", "source": {"type": "bucket", "bucket_id": "polls"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {"code": FAIL_SOME}}]})
    api.post("/v1/collections", json={"collection_name": "p1", "source": {"type": "collection", "collection_id": "p0"}})
    _, trig, _ = api.post("/v1/collections/p0/trigger", json={})
    batch_id = trig["batch_id"]
    run_batch(stores, settings, batch_id)

    status, polled, _ = api.get(f"/v1/batches/{batch_id}")
    assert status == 200 and polled["status"] == "COMPLETED_WITH_ERRORS"
    row = stores.batches.get(batch_id)
    live = render_batch(row, stores.batches.tier_stats(batch_id))
    assert polled["counters"] == live["counters"] and polled["tiers"] == _json(api, live)["tiers"]
    assert polled["counters"]["failed"] == 36 and polled["error_summary"] == {"JS_ERROR": 36}
    assert polled["tiers"][1]["counters"]["processed"] == 250 - 36

    # The poll no longer reads the chunk rows: changing them changes nothing it shows.
    stores.batches.chunks.update_many({"batch_id": batch_id}, {"$set": {"counts.processed": 0}})
    assert api.get(f"/v1/batches/{batch_id}")[1]["counters"] == polled["counters"]
    _, task, _ = api.get(f"/v1/tasks/{row['task_id']}")
    assert task["progress"]["processed"] == sum(t["progress"]["processed"] for t in polled["tiers"])
    stores.batches.chunks.update_many({"batch_id": batch_id}, {"$set": {"counts.processed": 1}})

    # A retry starts a new attempt: from then on the poll sums chunk rows again.
    engine.prepare_retry(stores, batch_id, row["namespace_id"], "failed_only", None)
    retried = api.get(f"/v1/batches/{batch_id}")[1]
    assert retried["status"] == "PENDING" and retried["attempt"] == 2
    assert retried["counters"]["failed"] == 0 and retried["tiers"][0]["counters"]["processed"] == \
        sum(1 for r in stores.batches.chunks.find({"batch_id": batch_id, "tier_num": 0}))
    run_batch(stores, settings, batch_id)
    again = api.get(f"/v1/batches/{batch_id}")[1]
    assert again["status"] == "COMPLETED_WITH_ERRORS" and again["attempt"] == 2
    assert again["counters"] == render_batch(stores.batches.get(batch_id),
                                             stores.batches.tier_stats(batch_id))["counters"]


def _json(api, view: dict) -> dict:
    """`view` as the API serialises it (datetimes as strings)."""
    import json

    from flask import json as flask_json

    with api.client.application.app_context():
        return json.loads(flask_json.dumps(view))
