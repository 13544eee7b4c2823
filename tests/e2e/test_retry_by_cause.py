"""Retry by cause, with real workers: a store outage (a MongoDB fail point on the worker's
inserts) turns the chunks it hit into infrastructure failures; `transient_only` re-runs just
those records, never the ones the user's code failed."""
from __future__ import annotations

import pytest

from tests.support.batches import load_objects, text_for, wait_batch
from tests.support.private_mongo import fail_inserts, private_mongo_fixtures

services, mongo_client = private_mongo_fixtures()
APP = "sluice-faulty-worker"
N, BAD = 300, 30


def js_collection(api, name: str, code: str) -> dict:
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": name, "source": {"type": "bucket", "bucket_id": "items"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {
            "code": code, "output_fields": {"v": "integer"}}}]})
    assert status == 201, body
    return body


@pytest.fixture
def items(api):
    assert api.post("/v1/buckets", json={"bucket_name": "items", "unique_key": {"fields": ["k"]},
                                         "schema": {"properties": {"k": {"type": "string"}}}})[0] == 201
    load_objects(api, "items", N, lambda i: {"data": {"k": f"k{i}", "v": i, "bad": i % 10 == 0}})


def test_transient_only_reruns_only_the_records_the_outage_hit(api, items, start_worker, services,
                                                               mongo_client, settings):
    col = js_collection(api, "doubled", "function transform(d) {\n  if (d.bad) throw new TypeError('bad');\n"
                                        "  return {v: d.v * 2};\n}")
    start_worker(env={"MONGO_URL": services.mongo_url + f"&appName={APP}"})
    fail_inserts(mongo_client, APP)
    try:
        status, trig, _ = api.post("/v1/collections/doubled/trigger", json={})
        assert status == 200, trig
        # Each chunk is retried with backoff (1+2+4+8 s) before the worker gives up on it.
        batch = wait_batch(api, trig["batch_id"], timeout=120)
    finally:
        fail_inserts(mongo_client, None)
    assert batch["status"] == "COMPLETED_WITH_ERRORS", batch
    assert batch["failed_by_cause"] == {"user_code": BAD, "infrastructure": N - BAD}, batch
    assert batch["tiers"][0]["failed_by_cause"] == batch["failed_by_cause"]
    status, page, _ = api.get(f"/v1/batches/{batch['batch_id']}/failed-documents?limit=1000")
    assert status == 200, page
    rows = page["results"]
    assert {r["cause"] for r in rows if r["code"] == "STORE_UNAVAILABLE"} == {"infrastructure"}
    user_rows = {r["source_id"]: r["at"] for r in rows if r["cause"] == "user_code"}
    assert len(user_rows) == BAD and {r["code"] for r in rows if r["cause"] == "user_code"} == {"JS_ERROR"}

    status, diag, _ = api.get(f"/v1/batches/{batch['batch_id']}/diagnose")
    assert status == 200 and diag["category"] == "infrastructure", diag
    assert "transient_only" in diag["recommendation"]

    status, body, _ = api.post(f"/v1/batches/{batch['batch_id']}/retry", json={"retry_mode": "transient_only"})
    assert status == 200, body
    again = wait_batch(api, batch["batch_id"])
    assert again["status"] == "COMPLETED_WITH_ERRORS" and again["attempt"] == 2, again
    assert again["failed_by_cause"] == {"user_code": BAD}
    assert again["counters"]["processed"] == N - BAD and again["counters"]["failed"] == BAD
    db = mongo_client[settings.mongo_db]
    assert db.documents.count_documents({"collection_id": col["collection_id"]}) == N - BAD
    # The second attempt read exactly the records the outage hit, and none the code failed.
    retried = sum(c["size"] for c in db.batch_chunks.find({"batch_id": batch["batch_id"], "attempt": 2}))
    assert retried == N - BAD
    status, page, _ = api.get(f"/v1/batches/{batch['batch_id']}/failed-documents?limit=1000")
    assert {r["source_id"]: r["at"] for r in page["results"]} == user_rows

    status, diag, _ = api.get(f"/v1/batches/{batch['batch_id']}/diagnose")
    assert diag["category"] == "user_code", diag
    assert diag["recommendation"] == (f"{BAD} records failed with JS_ERROR at line 2 of collection 'doubled'; "
                                      "fix the code and retry failed_only.")
    assert diag["top_errors"][0]["sample"]["message"].startswith("TypeError: bad")

    status, body, _ = api.post(f"/v1/batches/{batch['batch_id']}/retry", json={"retry_mode": "transient_only"})
    assert status == 409 and body["error"]["code"] == "nothing_to_retry", body


def test_resubmit_from_tier_1_leaves_tier_0_untouched_and_counts_unchanged(api, three_tier, start_worker,
                                                                          mongo_client, settings):
    a, b, c = three_tier
    n = 200
    load_objects(api, "articles", n, lambda i: {"data": {"sku": f"s{i}", "body": text_for(i)}})
    start_worker()
    status, trig, _ = api.post("/v1/collections/chunks/trigger", json={})
    assert status == 200, trig
    first = wait_batch(api, trig["batch_id"])
    assert first["status"] == "COMPLETED", first
    db = mongo_client[settings.mongo_db]
    counts = {col["collection_id"]: db.documents.count_documents({"collection_id": col["collection_id"]})
              for col in (a, b, c)}
    tier0 = {d["_id"]: d["updated_at"] for d in db.documents.find({"collection_id": a["collection_id"]})}
    tier1_before = {d["_id"]: d["batch_attempt"] for d in db.documents.find({"collection_id": b["collection_id"]})}
    status, body, _ = api.post(f"/v1/batches/{first['batch_id']}/resubmit", json={"from_tier": 3})
    assert status == 400 and body["error"]["details"][0]["path"] == "from_tier", body
    status, body, _ = api.post(f"/v1/batches/{first['batch_id']}/resubmit", json={"from_tier": 1})
    assert status == 200, body
    again = wait_batch(api, first["batch_id"])
    assert again["status"] == "COMPLETED" and again["attempt"] == 2, again
    assert again["tiers"][0] == first["tiers"][0]
    assert {col["collection_id"]: db.documents.count_documents({"collection_id": col["collection_id"]})
            for col in (a, b, c)} == counts
    assert {d["_id"]: d["updated_at"] for d in db.documents.find({"collection_id": a["collection_id"]})} == tier0
    after = {d["_id"]: d["batch_attempt"] for d in db.documents.find({"collection_id": b["collection_id"]})}
    assert set(after) == set(tier1_before) and set(after.values()) == {2}
    status, diag, _ = api.get(f"/v1/batches/{first['batch_id']}/diagnose")
    assert diag["category"] == "healthy", diag
