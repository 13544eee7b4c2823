"""A run whose worker dies mid-chunk still delivers every record exactly once in effect."""
from __future__ import annotations

import os
import signal

import pytest

from shared.tasknames import RUN_WATCHDOG
from tests.support.batches import load_objects
from tests.support.http import Receiver
from tests.support.pipelines import RUN_TERMINAL, connection, wait_run
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(300)
N = 1500
SLOW = "function transform(r) { const t = Date.now(); while (Date.now() - t < 3) {} return {k: r.k}; }"


def test_kill_mid_run_delivers_exactly_once_to_mongodb_and_webhook(api, services, mongo_client, start_worker):
    api.post("/v1/buckets", json={"bucket_name": "src", "unique_key": {"fields": ["k"]}})
    load_objects(api, "src", N, lambda i: {"data": {"k": i}})
    src = connection(api, "s", "bucket", {"bucket_id": "src"})
    ext = connection(api, "ext", "mongodb", {"uri": services.mongo_url, "database": "sluice_crash_dst"})
    receiver = Receiver("k")
    hook = connection(api, "hook", "webhook", {"url": receiver.url, "secret": "k", "batch_size": 50})
    pipes = []
    for dst, extra in ((ext, {"collection": "out"}), (hook, {})):
        status, p, _ = api.post("/v1/pipelines", json={"code": SLOW, "source": {"connection_id": src},
                                                       "destination": {"connection_id": dst, **extra}})
        assert status == 201, p
        pipes.append(p["pipeline_id"])
    try:
        w = start_worker(concurrency=2)
        runs = [api.post(f"/v1/pipelines/{p}/runs", json={})[1]["id"] for p in pipes]

        def progressed():
            return all(api.get(f"/v1/pipelines/runs/{r}")[1]["progress"]["chunks_done"] >= 1 for r in runs)
        wait_until(progressed, 60, message="both runs to make progress")
        for child in w.children():
            os.kill(child, signal.SIGKILL)  # both pool children, mid-chunk
        for r in runs:
            run = wait_run(api, r, timeout=120)
            assert run["status"] == "COMPLETED", run
            assert run["passed"] == [N] * 5
        keys = sorted(d["k"] for d in mongo_client["sluice_crash_dst"]["out"].find())
        assert keys == list(range(N))
        delivered = receiver.records()
        assert sorted(r["k"] for r in delivered.values()) == list(range(N))
        # a redelivered batch repeats its Idempotency-Key with the same records: receivers can dedupe
        assert all(receiver.keys)
        by_key: dict[str, list] = {}
        for key, body in zip(receiver.keys, receiver.bodies):
            by_key.setdefault(key, []).append(sorted(r["key"] for r in body["records"]))
        assert all(all(batch == batches[0] for batch in batches) for batches in by_key.values())
        assert sum(len(b[0]) for b in by_key.values()) == N
    finally:
        receiver.close()
        mongo_client.drop_database("sluice_crash_dst")


def test_run_watchdog_restarts_a_run_whose_start_was_lost(app, api, services, start_worker):
    import redis

    if not services.started_redis:
        pytest.skip("needs a Redis the tests started (it deletes a queue)")
    api.post("/v1/buckets", json={"bucket_name": "b"})
    load_objects(api, "b", 20, lambda i: {"data": {"k": i}})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
    src, dst = connection(api, "s", "bucket", {"bucket_id": "b"}), connection(api, "d", "collection",
                                                                             {"collection_id": "c"})
    _, p, _ = api.post("/v1/pipelines", json={"code": "function transform(r) { return r; }",
                                              "source": {"connection_id": src}, "destination": {"connection_id": dst}})
    _, started, _ = api.post(f"/v1/pipelines/{p['pipeline_id']}/runs", json={})
    client = redis.Redis.from_url(services.redis_url)
    assert client.delete("control") == 1  # the start message is lost
    client.close()
    start_worker(env={"SLUICE_STALL_TIMEOUT_S": "1"})
    sender = app.extensions["sluice.tasks"]

    def finished():
        sender.send(RUN_WATCHDOG)
        return api.get(f"/v1/pipelines/runs/{started['id']}")[1]["status"] in RUN_TERMINAL
    wait_until(finished, 60, interval=1.0, message="the run watchdog")
    assert wait_run(api, started["id"])["passed"] == [20] * 5
