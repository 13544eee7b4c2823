"""Completion webhooks: signed events, retries, failed deliveries visible and re-sendable."""
from __future__ import annotations

from tests.support.batches import load_objects, wait_batch
from tests.support.http import SECRET
from tests.support.pipelines import connection, wait_run
from tests.support.waiting import wait_until


def test_batch_and_run_events_are_delivered_signed_after_retries(api, event_receiver, start_worker):
    status, hook, _ = api.post("/v1/webhooks", json={
        "url": event_receiver.url, "secret": SECRET,
        "events": ["batch.completed", "batch.failed", "run.completed", "run.failed"]})
    assert status == 201, hook
    assert hook["has_secret"] and "secret" not in hook
    # encrypted at rest; the worker that signs below decrypts it
    raw = api.client.application.extensions["sluice.stores"].webhooks.coll.find_one({"_id": hook["webhook_id"]})
    assert raw["secret"].startswith("enc:v1:") and SECRET not in str(raw)
    event_receiver.fail_next = 2  # the first two attempts get 503: retried with backoff
    api.post("/v1/buckets", json={"bucket_name": "b"})
    load_objects(api, "b", 10, lambda i: {"data": {"i": i}})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
    start_worker(queues="default,control,webhooks", concurrency=2)
    _, trig, _ = api.post("/v1/collections/c/trigger", json={})
    assert wait_batch(api, trig["batch_id"])["status"] == "COMPLETED"
    wait_until(lambda: event_receiver.of_type("batch.completed"), 30, message="batch.completed delivered")
    event, signed, key = event_receiver.of_type("batch.completed")[0]
    assert signed and event["event_id"].startswith("evt_") and key == event["event_id"]
    assert event["data"]["batch_id"] == trig["batch_id"] and event["data"]["counters"]["processed"] == 10
    # a run whose source is gone fails: run.failed
    api.post("/v1/buckets", json={"bucket_name": "doomed"})
    bad = connection(api, "doomed-src", "bucket", {"bucket_id": "doomed"})
    dst = connection(api, "dst", "collection", {"collection_id": "c"})
    _, p, _ = api.post("/v1/pipelines", json={"code": "function transform(r) { return r; }",
                                              "source": {"connection_id": bad}, "destination": {"connection_id": dst}})
    assert api.delete("/v1/buckets/doomed")[0] == 200
    _, started, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={})
    run = wait_run(api, started["id"])
    assert run["status"] == "FAILED" and run["error"]
    wait_until(lambda: event_receiver.of_type("run.failed"), 30, message="run.failed delivered")
    assert event_receiver.of_type("run.failed")[0][0]["data"]["id"] == started["id"]
    _, listed, _ = api.get(f"/v1/webhooks/{hook['webhook_id']}/deliveries")
    assert {d["status"] for d in listed["results"]} == {"delivered"}


def test_failed_deliveries_are_kept_and_can_be_resent(api, event_receiver, start_worker):
    _, hook, _ = api.post("/v1/webhooks", json={"url": event_receiver.url, "secret": SECRET, "max_attempts": 2,
                                                "events": ["batch.completed"]})
    event_receiver.always_fail = True
    api.post("/v1/buckets", json={"bucket_name": "b"})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
    start_worker(queues="default,control,webhooks", concurrency=2)
    _, trig, _ = api.post("/v1/collections/c/trigger", json={})
    wait_batch(api, trig["batch_id"])

    def failed():
        _, body, _ = api.get(f"/v1/webhooks/{hook['webhook_id']}/deliveries?status=failed")
        return body["results"]
    rows = wait_until(failed, 30, message="a failed delivery")
    assert rows[0]["attempts"] == 1 and "503" in rows[0]["last_error"]
    event_receiver.always_fail = False
    status, body, _ = api.post(f"/v1/webhooks/{hook['webhook_id']}/deliveries/{rows[0]['delivery_id']}/resend")
    assert status == 200
    wait_until(lambda: event_receiver.of_type("batch.completed"), 30, message="the re-sent event")
    assert event_receiver.of_type("batch.completed")[0][0]["event_id"] == rows[0]["event_id"]


def test_a_host_name_resolving_to_loopback_is_refused_at_send_time(api, event_receiver, start_worker):
    """With private addresses off, `localhost` passes validation (a name, not an IP) but the
    worker resolves it before connecting and refuses: a failed delivery saying why, no retries,
    nothing reaches the event_receiver."""
    url = event_receiver.url.replace("127.0.0.1", "localhost")
    _, hook, _ = api.post("/v1/webhooks", json={"url": url, "secret": SECRET, "events": ["batch.completed"]})
    api.post("/v1/buckets", json={"bucket_name": "b"})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
    start_worker(queues="default,control,webhooks", concurrency=2, env={"SLUICE_WEBHOOK_ALLOW_PRIVATE": "false"})
    _, trig, _ = api.post("/v1/collections/c/trigger", json={})
    assert wait_batch(api, trig["batch_id"])["status"] == "COMPLETED"

    def failed():
        _, body, _ = api.get(f"/v1/webhooks/{hook['webhook_id']}/deliveries?status=failed")
        return body["results"]
    row = wait_until(failed, 30, message="the refused delivery")[0]
    assert row["last_error"].startswith("refused: localhost resolves to 127.0.0.1, which is a loopback address")
    assert "SLUICE_WEBHOOK_ALLOW_PRIVATE=true" in row["last_error"] and row["attempts"] == 1
    assert event_receiver.events == []


def test_webhook_urls_with_refused_literal_ips_are_400(api):
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://0.0.0.0:80/"):
        status, body, _ = api.post("/v1/webhooks", json={"url": url, "events": ["batch.completed"]})
        assert status == 400 and body["error"]["code"] == "validation_error", body
        assert [d["path"] for d in body["error"]["details"]] == ["url"]
        assert "webhooks may never reach it" in body["error"]["details"][0]["message"]
    # the tests' settings allow private networks (their receivers listen on 127.0.0.1)
    assert api.post("/v1/webhooks", json={"url": "http://10.0.0.9/in", "events": ["batch.completed"]})[0] == 201


def test_webhook_validation(api):
    status, body, _ = api.post("/v1/webhooks", json={"url": "ftp://x", "events": ["batch.exploded"], "secret": "s"})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert {"url", "events.0", "secret"} <= paths
    assert api.get("/v1/webhooks/wh_nope")[0] == 404
