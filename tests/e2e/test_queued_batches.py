"""A batch that ends in any way frees its namespace's max_active_batches place at once: the
next queued batch starts without waiting for the watchdog (no beat runs here, and its
interval is set to an hour to make the point)."""
from __future__ import annotations

import time

from tests.support.fairness import tenant, trigger, wait
from tests.support.waiting import wait_until

NO_WATCHDOG = {"SLUICE_CHUNK_SIZE": "250", "SLUICE_WATCHDOG_INTERVAL_S": "3600", "SLUICE_STALL_TIMEOUT_S": "3600"}


def test_a_failed_batch_starts_the_next_queued_one_at_once(admin, stores, start_worker):
    api = tenant(admin, stores, "tenant-a", 2_000, limits={"max_active_batches": 1})
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "doomed", "source": {"type": "bucket", "bucket_id": "items"}})
    assert status == 201, body
    status, out, _ = api.post("/v1/collections/doomed/trigger")
    assert status == 200, out
    first = out["batch_id"]
    second, third = trigger(api), trigger(api)        # queued behind the first
    # Deleted while its batch waits: the first batch cannot start and ends FAILED.
    assert api.delete("/v1/collections/doomed")[0] == 200
    t0 = time.monotonic()
    start_worker(concurrency=2, env=NO_WATCHDOG)
    views = [wait(api, b, 60) for b in (first, second, third)]
    elapsed = time.monotonic() - t0
    assert views[0]["status"] == "FAILED", views[0]
    assert "could not start" in views[0]["error"] and "does not exist" in views[0]["error"], views[0]["error"]
    assert [v["status"] for v in views[1:]] == ["COMPLETED", "COMPLETED"], views
    rows = [stores.batches.get(b) for b in (first, second, third)]
    for earlier, later in zip(rows, rows[1:]):
        assert later["started_at"] >= earlier["completed_at"], "two batches were active at once"
    assert elapsed < 60   # seconds, against a watchdog an hour away


def test_a_canceled_and_a_completed_batch_each_start_the_next(admin, stores, start_worker):
    api = tenant(admin, stores, "tenant-b", 10_000, limits={"max_active_batches": 1})
    start_worker(concurrency=2, env=NO_WATCHDOG)
    first = trigger(api)
    wait(api, first, 60, until=lambda b: b["status"] == "PROCESSING")
    second, third = trigger(api), trigger(api)
    wait_until(lambda: stores.batches.get(third).get("queued_at"), 30, message="the third batch to queue")
    assert stores.batches.get(first)["status"] == "PROCESSING"
    status, body, _ = api.post(f"/v1/batches/{first}/cancel")
    assert status == 200 and body["status"] == "CANCELED", body
    views = [wait(api, b, 60) for b in (second, third)]
    assert [v["status"] for v in views] == ["COMPLETED", "COMPLETED"], views
    rows = [stores.batches.get(b) for b in (first, second, third)]
    assert rows[1]["started_at"] >= rows[0]["completed_at"]
    assert rows[2]["started_at"] >= rows[1]["completed_at"]
    assert rows[2]["queued_at"] <= rows[1]["completed_at"]   # the first time it waited, kept
