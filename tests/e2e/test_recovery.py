"""Recovery in seconds, with default settings: a whole worker killed (with a replacement, or
with a second worker already running), Redis restarted without its data, MongoDB killed and
restarted — each mid-tier, each ending with exact document counts within RECOVERY_S."""
from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from cli.localservices import start_mongod, start_redis
from tests.support.faults import assert_exact, finished_within, kill_and_replace, setup_dag, started

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]


def test_whole_worker_killed_then_replaced(api, start_worker, mongo_client, settings):
    kill_and_replace(api, start_worker, mongo_client, settings, "kill -9 of the whole worker, a replacement started")


def test_the_survivor_takes_a_dead_workers_chunks(api, start_worker, mongo_client, settings):
    (w1, _w2), batch_id = started(api, start_worker, workers=2)
    w1.kill()
    finished_within(api, batch_id, time.monotonic(), "kill -9 of one of two workers")
    assert_exact(api, mongo_client, settings)


def stop_redis_without_saving(services) -> int:
    """`shutdown nosave` of the Redis these tests started; returns its port."""
    if not services.started_redis:
        pytest.skip("only a Redis these tests started may be restarted")
    port = int(services.redis_url.rsplit(":", 1)[1].split("/")[0])
    try:
        redis.Redis(port=port).shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass   # the server closes the connection as it goes
    old = next(p for p in services.procs if "redis" in str(p.args[0]))
    old.wait(timeout=10)
    services.procs.remove(old)
    return port


def start_redis_again(services, port: int) -> None:
    _, proc = start_redis(services.workdir, port=port)
    services.procs.append(proc)


def test_redis_restarted_without_its_data(api, start_worker, mongo_client, settings, services):
    _, batch_id = started(api, start_worker)
    port = stop_redis_without_saving(services)
    fault = time.monotonic()
    start_redis_again(services, port)
    finished_within(api, batch_id, fault, "Redis shutdown nosave + restart")
    assert_exact(api, mongo_client, settings)


def test_a_trigger_while_the_broker_is_down_is_accepted_and_started_later(api, start_worker, mongo_client,
                                                                           settings, services):
    setup_dag(api)
    start_worker(concurrency=2)
    port = stop_redis_without_saving(services)
    t = time.monotonic()
    status, trig, _ = api.post("/v1/collections/slow/trigger", json={})
    assert status == 200, trig
    assert time.monotonic() - t < 5
    assert api.get(f"/v1/batches/{trig['batch_id']}")[1]["status"] == "PENDING"
    back = time.monotonic()
    start_redis_again(services, port)
    finished_within(api, trig["batch_id"], back, "a trigger during a Redis outage, once Redis is back")
    assert_exact(api, mongo_client, settings)


def test_mongod_killed_and_restarted(api, start_worker, mongo_client, settings, services):
    if not services.started_mongo:
        pytest.skip("only a mongod these tests started may be killed")
    _, batch_id = started(api, start_worker)
    mongod = next(p for p in services.procs if "mongod" in str(p.args[0]))
    port = int(services.mongo_url.rsplit(":", 1)[1].split("/")[0])
    os.killpg(mongod.pid, signal.SIGKILL)
    mongod.wait(timeout=10)
    services.procs.remove(mongod)
    fault = time.monotonic()
    # The API answers 503 in the one envelope while MongoDB is away, never 500.
    statuses = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status, body, resp = api.get(f"/v1/batches/{batch_id}")
        statuses.add(status)
        assert status == 503, (status, body)
        assert body["error"]["code"] and resp.headers.get("Content-Type", "").startswith("application/json")
    _, proc = start_mongod(services.workdir, port=port)
    services.procs.append(proc)
    finished_within(api, batch_id, fault, "mongod kill -9, restarted after 5 s")
    assert statuses == {503}
    assert_exact(api, mongo_client, settings)
