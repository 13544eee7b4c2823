"""Several hosts, one of them cut off mid-tier: MongoDB and Redis on one test host, two
workers each on a host of its own, and this process as the API host (Linux network
namespaces joined by veth links, made and removed by the test; see tests/support/netns.py).

The cut worker host's chunks go to the survivor once its heartbeat has been silent for
SLUICE_WORKER_DEAD_AFTER_S, and the batch completes within RECOVERY_S of the cut. When
the link comes back, the cut worker's in-flight chunks finish late and write again: that
must change nothing (same documents, no duplicate, same chunk rows and counters)."""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest

from cli.localservices import LocalServices, start_mongod, start_redis
from tests.support.faults import N, RECOVERY_S, assert_exact, chunks_done, finished_within, setup_dag
from tests.support.metrics import scrape
from tests.support.netns import NetnsUnavailable, make_hosts
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.multihost, pytest.mark.timeout(120)]

# 30 ms of JavaScript per record: 12 chunks of ~3 s, ~9 s of work on four pool children, so
# the batch is well under way on both hosts when one of them is cut off.
SLOWER_JS = ("function transform(d) { const t = Date.now(); while (Date.now() - t < 30) {} "
             "return {k: d.k, twice: d.k * 2}; }")


@pytest.fixture(scope="module")
def hosts():
    try:
        made = make_hosts(["svc", "w1", "w2"])
    except NetnsUnavailable as exc:
        pytest.skip(f"no test hosts: {exc}")
    try:
        yield made
    finally:
        made.teardown()


@pytest.fixture(scope="module")
def services(hosts):
    """Overrides the session's servers: these listen on the svc host's address only."""
    svc = LocalServices("", "", workdir=Path(tempfile.mkdtemp(prefix="sluice-multihost-")))
    on_svc = {"host": hosts.addresses["svc"], "prefix": hosts.exec_prefix("svc")}
    try:
        svc.mongo_url, proc = start_mongod(svc.workdir, **on_svc)
        svc.procs.append(proc)
        svc.redis_url, proc = start_redis(svc.workdir, **on_svc)
        svc.procs.append(proc)
        svc.started_mongo = svc.started_redis = True
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def mongo_client(services):
    import pymongo

    client = pymongo.MongoClient(services.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=False)
    yield client
    client.close()


@pytest.fixture
def worker_env(worker_env):
    # The svc host's Redis is the broker, whatever broker this shell names.
    return {**worker_env, "BROKER_URL": ""}


def held_by(stores, batch_id: str, worker) -> list[str]:
    """Unfinished chunk rows a worker process of `worker` (any pid) says it holds."""
    mine = re.compile(rf"^{re.escape(worker.name)}#")
    return [r["_id"] for r in stores.batches.ledger.pending(batch_id) if mine.match(r.get("held_by") or "")]


def snapshot(api, admin, stores, mongo_client, settings, batch_id: str) -> dict:
    """Everything a late write could change: documents (but `updated_at`), chunk rows,
    the batch's counters, the processed-records metric."""
    db = mongo_client[settings.mongo_db]
    docs = {}
    for name in ("slow", "after"):
        cid = api.get(f"/v1/collections/{name}")[1]["collection_id"]
        docs[name] = sorted((d["_id"], repr(d.get("data"))) for d in
                            db.documents.find({"collection_id": cid}, {"updated_at": 0}))
    batch = api.get(f"/v1/batches/{batch_id}")[1]
    fams = scrape(admin)
    return {"docs": docs,
            "chunks": sorted((r["_id"], r["done"], r.get("worker"), repr(r.get("counts")))
                             for r in stores.batches.ledger.rows(batch_id)),
            "batch": (batch["status"], [(t["counters"], t["chunks"]) for t in batch["tiers"]]),
            "processed_metric": sorted(v for n, _, v in fams.get("sluice_records_processed", [])
                                       if n == "sluice_records_processed_total")}


def idle_again(stores, worker, since) -> bool:
    """`worker` beats again (a row newer than `since`) and holds nothing."""
    rows = [r for r in stores.workers.coll.find({}) if r["_id"].startswith(f"{worker.name}#")]
    return any(r["beat_at"] > since and r.get("held") == 0 for r in rows)


def late_outcomes(worker, chunk_ids: list[str]) -> dict[str, list[str]]:
    """What `worker`'s log says its tasks for `chunk_ids` did besides being received
    (retry, succeeded, raised...), in order."""
    said: dict[str, list[str]] = {c: [] for c in chunk_ids}
    for line in Path(worker.log.name).read_text(errors="replace").splitlines():
        for c in chunk_ids:
            m = re.search(rf"\[{re.escape(c)}\] (\w+)", line)
            if m and m.group(1) != "received":
                said[c].append(m.group(1))
    return said


def test_a_worker_host_cut_off_mid_tier(api, admin, app, hosts, start_worker, mongo_client, settings):
    stores = app.extensions["sluice.stores"]
    setup_dag(api, SLOWER_JS)
    w1 = start_worker(concurrency=2, prefix=hosts.exec_prefix("w1"))
    w2 = start_worker(concurrency=2, prefix=hosts.exec_prefix("w2"))
    _, trig, _ = api.post("/v1/collections/slow/trigger", json={})
    batch_id = trig["batch_id"]

    # Cut w1 while both of its children are busy with chunks it has marked as held (so no
    # message is in flight to it), after it has completed some: the batch runs on both hosts.
    def busy_w1():
        done_by_w1 = [r for r in stores.batches.ledger.rows(batch_id) if r.get("worker") == w1.name]
        held = held_by(stores, batch_id, w1)
        return held if done_by_w1 and len(held) == 2 else None
    held = wait_until(busy_w1, 60, interval=0.05, message="w1 to hold two chunks after finishing some")
    hosts.cut("w1")
    cut_at = time.monotonic()
    print(f"\n[multihost] cut w1 after {chunks_done(api, batch_id)} chunks done; it held {held}")

    wait_until(lambda: not held_by(stores, batch_id, w1), RECOVERY_S, interval=0.2,
               message="w1's chunks to be sent again")
    print(f"[multihost] w1's chunks sent again {time.monotonic() - cut_at:.1f} s after the cut")
    finished_within(api, batch_id, cut_at, "multi-host: a worker host cut off (link down)")
    assert_exact(api, mongo_client, settings)
    rows = {r["_id"]: r for r in stores.batches.ledger.rows(batch_id)}
    assert all(rows[c]["worker"] == w2.name for c in held), [rows[c] for c in held]
    assert {r["worker"] for r in rows.values()} == {w1.name, w2.name}
    before = snapshot(api, admin, stores, mongo_client, settings, batch_id)
    assert before["processed_metric"] == [N, N]

    # The link comes back: w1's stale executions of its chunks end late (their writes land,
    # or they fail and retry, and the retry finds the chunk done); that changes nothing.
    link_up = max(stores.workers.beats().values())   # MongoDB server time, as every beat
    hosts.reconnect("w1")
    assert not any(late_outcomes(w1, held).values())
    wait_until(lambda: all(late_outcomes(w1, held).values()) and idle_again(stores, w1, link_up)
               and idle_again(stores, w2, link_up)
               and app.extensions["sluice.tasks"].queue_depths(("default",)).get("default") == 0,
               60, interval=0.5, message="w1 back and done with its chunks, both idle, nothing queued")
    print(f"[multihost] w1's chunks, after the link came back: {late_outcomes(w1, held)}")
    assert snapshot(api, admin, stores, mongo_client, settings, batch_id) == before
    assert_exact(api, mongo_client, settings)

    w1.stop()
    assert w1.proc.poll() is not None
