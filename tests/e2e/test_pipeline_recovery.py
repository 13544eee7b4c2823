"""Pipelines when things go wrong, with real workers: dead letters and their replay, error
budgets, self-disabling after a failure streak (with its webhook events), and backfills."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.batches import load_objects
from tests.support.http import SECRET
from tests.support.pipelines import connection, wait_run
from tests.support.waiting import wait_until

BUGGY = "function transform(r) {\n  if (r.bad) return r.missing.field;\n  return {email: r.email};\n}"
FIXED = "function transform(r) {\n  return {email: r.email};\n}"


@pytest.fixture
def people(api):
    assert api.post("/v1/buckets", json={"bucket_name": "people", "unique_key": {"fields": ["email"]}})[0] == 201
    load_objects(api, "people", 50, lambda i: {"data": {"email": f"u{i}@x.io", "bad": i % 10 == 3}})
    assert api.post("/v1/collections", json={"collection_name": "directory",
                                             "source": {"type": "bucket", "bucket_id": "people"}})[0] == 201
    src = connection(api, "people-src", "bucket", {"bucket_id": "people"})
    dst = connection(api, "dir-dst", "collection", {"collection_id": "directory"})
    return src, dst


def pipeline(api, src: str, dst: str, **extra) -> str:
    status, p, _ = api.post("/v1/pipelines", json={"code": BUGGY, "source": {"connection_id": src},
                                                   "destination": {"connection_id": dst}, **extra})
    assert status == 201, p
    return p["pipeline_id"]


def run(api, pid: str) -> dict:
    status, started, _ = api.post(f"/v1/pipelines/{pid}/runs", json={})
    assert status == 200, started
    return wait_run(api, started["id"])


def test_dead_letters_are_listed_and_a_replay_after_the_fix_writes_exactly_them(api, people, start_worker):
    src, dst = people
    pid = pipeline(api, src, dst)
    start_worker()
    first = run(api, pid)
    assert first["status"] == "COMPLETED_WITH_ERRORS" and first["failed"][2] == 5, first
    status, page, _ = api.get(f"/v1/pipelines/runs/{first['id']}/dead-letters")
    assert status == 200 and page["pagination"]["total"] == 5, page
    letter = page["results"][0]
    assert letter["step"] == "transform" and letter["code"] == "JS_ERROR" and letter["cause"] == "user_code"
    assert letter["record"]["bad"] is True and letter["record"]["email"].endswith("@x.io")
    assert "TypeError" in letter["message"]
    bad_emails = {r["record"]["email"] for r in page["results"]}
    assert api.get("/v1/collections/directory")[1]["document_count"] == 45

    assert api.patch(f"/v1/pipelines/{pid}", json={"code": FIXED})[0] == 200
    status, replay, _ = api.post(f"/v1/pipelines/runs/{first['id']}/dead-letters/replay")
    assert status == 200 and replay["replay_of"] == first["id"], replay
    again = wait_run(api, replay["id"])
    assert again["status"] == "COMPLETED" and again["replay_of"] == first["id"], again
    assert again["passed"] == [5, 5, 5, 5, 5] and again["trigger"] == "replay"
    assert api.get("/v1/collections/directory")[1]["document_count"] == 50
    _, docs, _ = api.post("/v1/collections/directory/documents/list",
                          json={"filters": {"AND": [{"field": "email", "operator": "in", "value": sorted(bad_emails)}]}})
    assert docs["pagination"]["total"] == 5
    assert api.get(f"/v1/pipelines/runs/{again['id']}/dead-letters")[1]["pagination"]["total"] == 0
    status, body, _ = api.post(f"/v1/pipelines/runs/{again['id']}/dead-letters/replay")
    assert status == 409 and body["error"]["code"] == "nothing_to_replay", body


def test_over_budget_runs_fail_and_the_pipeline_disables_itself_with_events(api, people, event_receiver, start_worker):
    src, dst = people
    status, hook, _ = api.post("/v1/webhooks", json={"url": event_receiver.url, "secret": SECRET,
                                                     "events": ["pipeline.failing", "pipeline.disabled"]})
    assert status == 201, hook
    pid = pipeline(api, src, dst, max_failed_records=2, disable_after_failures=2, failing_after_failures=1)
    status, p, _ = api.get(f"/v1/pipelines/{pid}")
    assert p["max_failed_records"] == 2 and p["disable_after_failures"] == 2 and p["failure_streak"] == 0
    start_worker(queues="default,control,webhooks")
    first = run(api, pid)
    assert first["status"] == "FAILED", first
    assert first["error"] == "error budget exceeded: 5 records failed, more than max_failed_records 2"
    assert api.get(f"/v1/pipelines/runs/{first['id']}/dead-letters")[1]["pagination"]["total"] == 5
    wait_until(lambda: event_receiver.of_type("pipeline.failing"), 30, message="pipeline.failing delivered")
    assert api.get(f"/v1/pipelines/{pid}")[1]["enabled"] is True
    second = run(api, pid)
    assert second["status"] == "FAILED"
    wait_until(lambda: event_receiver.of_type("pipeline.disabled"), 30, message="pipeline.disabled delivered")
    event, signed, _ = event_receiver.of_type("pipeline.disabled")[0]
    assert signed and event["data"]["pipeline_id"] == pid and event["data"]["consecutive_failures"] == 2
    status, p, _ = api.get(f"/v1/pipelines/{pid}")
    assert p["enabled"] is False and p["failure_streak"] == 2
    assert p["disabled_reason"].startswith("disabled after 2 consecutive failed runs; the last: error budget")
    status, body, _ = api.post(f"/v1/pipelines/{pid}/runs", json={})
    assert status == 422 and body["error"]["message"] == "pipeline is disabled"
    assert len(event_receiver.of_type("pipeline.failing")) == 1

    # Within budget, failures are skipped and recorded as before; enabling starts a new streak.
    assert api.patch(f"/v1/pipelines/{pid}", json={"max_failed_records": 10})[0] == 200
    assert api.put(f"/v1/pipelines/{pid}/status", json={"enabled": True})[0] == 204
    third = run(api, pid)
    assert third["status"] == "COMPLETED_WITH_ERRORS" and sum(third["failed"]) == 5
    status, p, _ = api.get(f"/v1/pipelines/{pid}")
    assert p["failure_streak"] == 0 and p["disabled_reason"] is None


def test_backfill_runs_a_time_range_as_windows_in_order(api, services, mongo_client, start_worker):
    ext = mongo_client["sluice_ext_backfill"]
    t0 = datetime(2026, 1, 1, 0, 0, 0)
    # 3 hours of events, 4 per hour, plus 2 later ones the backfill must not read
    rows = [{"i": i, "ts": t0 + timedelta(minutes=15 * i + 1)} for i in range(12)]
    rows += [{"i": 100 + i, "ts": t0 + timedelta(hours=5, minutes=i)} for i in range(2)]
    ext.events.insert_many(rows)
    try:
        src = connection(api, "ext", "mongodb", {"uri": services.mongo_url, "database": "sluice_ext_backfill",
                                                 "collection": "events"})
        dst = connection(api, "sink-dst", "collection", {})
        status, p, _ = api.post("/v1/pipelines", json={
            "code": "function transform(r) { return {i: r.i}; }", "source": {"connection_id": src},
            "destination": {"connection_id": dst, "collection": "landing"}, "update_time_field": "ts"})
        assert status == 201, p
        pid = p["pipeline_id"]
        status, body, _ = api.post(f"/v1/pipelines/{pid}/backfill", json={"start": "2026-01-01T03:00:00Z",
                                                                         "end": "2026-01-01T00:00:00Z"})
        assert status == 400 and body["error"]["details"][0]["path"] == "end", body
        start_worker()
        status, body, _ = api.post(f"/v1/pipelines/{pid}/backfill", json={
            "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T03:00:00Z", "window": "1h"})
        assert status == 202 and len(body["windows"]) == 3, body

        def finished():
            doc = api.get(f"/v1/pipelines/{pid}")[1]
            return doc if (doc.get("backfill") or {}).get("status") == "completed" else None
        doc = wait_until(finished, 90, interval=0.3, message="backfill to finish")
        runs = sorted(api.get(f"/v1/pipelines/runs?pipeline={pid}")[1]["runs"], key=lambda r: r["window"]["index"])
        assert [r["window"]["index"] for r in runs] == [0, 1, 2] and {r["trigger"] for r in runs} == {"backfill"}
        assert [r["passed"][4] for r in runs] == [4, 4, 4] and {r["status"] for r in runs} == {"COMPLETED"}
        assert all(a["endTime"] <= b["startTime"] for a, b in zip(runs, runs[1:]))  # one after another
        assert doc["cursor"] is None  # windows in the past never move the incremental cursor
        assert api.get("/v1/collections/landing")[1]["document_count"] == 12

        status, body, _ = api.post(f"/v1/pipelines/{pid}/backfill", json={"skipped": True})
        assert status == 422 and body["error"]["code"] == "nothing_to_backfill", body
    finally:
        mongo_client.drop_database("sluice_ext_backfill")
