"""Backlog signals for autoscaling: queue depth and oldest-message age, chunks waiting and
running per namespace and priority — in /metrics and GET /v1/queues."""
from __future__ import annotations

from tests.support.fairness import batch, queues, tenant, trigger, wait
from tests.support.waiting import wait_until


def test_oldest_message_age_and_chunks_waiting_and_running(admin, app, worker_env, start_worker):
    stores = app.extensions["sluice.stores"]
    api = tenant(admin, stores, "tenant-a", 40_000)
    b = trigger(api, priority="low")            # no worker yet: the start message waits
    control = wait_until(lambda: next((q for q in queues(admin)["queues"] if q["queue"] == "control"
                                       and (q["oldest_age_seconds"] or 0) > 0.2), None), 10,
                         message="the control queue's oldest message to age")
    assert control["depth"] >= 1
    # one process over 160 chunks: seconds of work, so the poll below sees it under way
    start_worker(concurrency=1, env={"SLUICE_CHUNK_SIZE": "250"})

    def busy():
        assert batch(api, b)["status"] in ("PENDING", "PROCESSING"), "finished before it was seen running"
        return next((r for r in queues(admin)["namespaces"] if r["waiting"] > 0 and r["running"] > 0), None)
    row = wait_until(busy, 60, message="chunks waiting and running")
    assert row["priority"] == "low" and row["namespace_id"] == stores.namespaces.get("tenant-a")["_id"]
    text = admin.client.get("/metrics", headers=admin.headers()).get_data(as_text=True)  # the admin key may scrape
    assert 'sluice_chunks_waiting{namespace="' in text and "sluice_queue_oldest_age_seconds" in text
    assert wait(api, b, 120)["status"] == "COMPLETED"
    assert all(r["waiting"] == 0 and r["running"] == 0 for r in queues(admin)["namespaces"])
    status, body, _ = api.as_(key="sk_not_a_key").get("/v1/queues")
    assert status == 401


def test_queues_needs_the_admin_key(admin):
    status, key, _ = admin.post("/v1/api-keys", json={"name": "k", "namespaces": "*"})
    assert status == 201, key
    status, body, _ = admin.as_(key=key["secret"]).get("/v1/queues")
    assert status == 403 and body["error"]["code"] == "admin_required"
