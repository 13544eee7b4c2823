"""Canceling a pipeline run (POST /v1/pipelines/runs/{id}/cancel) from PENDING, RUNNING and
PAUSED with real workers: the pipeline is free again, queued chunks are skipped at no cost,
and a finished run answers 409 in the error envelope."""
from __future__ import annotations

from tests.support.fairness import tenant
from tests.support.pipelines import pipeline, run_view
from tests.support.waiting import wait_until
CHUNK = {"SLUICE_CHUNK_SIZE": "250"}


def start(api, pipeline_id: str) -> str:
    status, body, _ = api.post(f"/v1/pipelines/{pipeline_id}/runs")
    assert status == 200, body
    return body["id"]


def cancel(api, run_id: str) -> dict:
    status, body, _ = api.post(f"/v1/pipelines/runs/{run_id}/cancel")
    assert status == 200 and body["status"] == "CANCELED", body
    assert body["endTime"] is not None
    return body


def no_chunk_left(stores, run_id: str) -> bool:
    return not [r for r in stores.runs.ledger.pending(run_id) if not r.get("parked")]


def test_cancel_a_run_from_pending_running_and_paused(admin, stores, start_worker):
    api = tenant(admin, stores, "tenant-a", 15_000)
    pid = pipeline(api, "bulk")

    pending = start(api, pid)                       # no worker yet: it stays PENDING
    assert run_view(api, pending)["status"] == "PENDING"
    cancel(api, pending)
    start_worker(concurrency=2, env=CHUNK)

    running = start(api, pid)                       # the pipeline was freed by the cancel
    wait_until(lambda: run_view(api, running)["progress"]["read"] >= 1_000, 60, message="the run to progress")
    canceled = cancel(api, running)
    # Chunks in progress finish; every chunk still queued is met and marked done unread.
    wait_until(lambda: no_chunk_left(stores, running), 30, message="the queued chunks to be skipped")
    rows = stores.runs.ledger.rows(running)
    skipped = [r for r in rows if r["passed"][0] == 0]
    assert skipped and all(r["duration_ms"] == 0 for r in skipped), skipped[:3]
    final = run_view(api, running)
    assert final["status"] == "CANCELED" and final["progress"]["read"] < 15_000
    assert final["progress"]["read"] >= canceled["progress"]["read"]

    paused = start(api, pid)
    wait_until(lambda: run_view(api, paused)["progress"]["read"] >= 500, 60, message="the third run to progress")
    status, body, _ = api.post(f"/v1/pipelines/runs/{paused}/pause")
    assert status == 200 and body["status"] == "PAUSED", body
    cancel(api, paused)
    status, body, _ = api.post(f"/v1/pipelines/runs/{paused}/resume")
    assert status == 409 and body["error"]["code"] == "run_not_paused", body

    # The first run never started a chunk: its start message found it CANCELED.
    assert run_view(api, pending)["status"] == "CANCELED" and not stores.runs.ledger.rows(pending)
    for run_id in (pending, running, paused):
        status, body, _ = api.post(f"/v1/pipelines/runs/{run_id}/cancel")
        assert status == 409 and body["error"]["code"] == "run_finished", body
        assert "already CANCELED" in body["error"]["message"]

    last = start(api, pid)      # free again after a cancel from PAUSED too; a finished run is 409
    done = wait_until(lambda: (v := run_view(api, last))["status"] == "COMPLETED" and v, 120, message="a full run")
    assert done["passed"] == [15_000] * 5
    status, body, _ = api.post(f"/v1/pipelines/runs/{last}/cancel")
    assert status == 409 and body["error"]["code"] == "run_finished" and "COMPLETED" in body["error"]["message"]
    status, body, _ = api.post("/v1/pipelines/runs/run_nope/cancel")
    assert status == 404, body


def test_run_cancel_is_in_the_openapi_document(admin):
    doc = admin.client.get("/v1/openapi.json").get_json()
    op = doc["paths"]["/v1/pipelines/runs/{run_id}/cancel"]["post"]
    assert {"200", "404", "409"} <= set(op["responses"]), op["responses"]
