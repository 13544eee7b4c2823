"""Steps run in this process against real MongoDB (no broker): the lease and epoch rules that
keep two chains of one pipeline from both running, the watchdog's compare-and-set, a lease
lost mid-step, and the errors that end a pipeline FAILED."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from pymongo.errors import OperationFailure

from shared.errors import Conflict

from shared.connectors import clients
from shared.engine.streaming import control
from shared.settings import StreamingSettings
from shared.engine.streaming.step import run_step
from shared.stores.changefeed import HISTORY_LOST_MESSAGE, ChangeFeed, HistoryLost
from shared.timeutil import utcnow
from tests.support.pipelines import connection
from tests.support.streaming import create_pipeline, mirror_of

SS = StreamingSettings(lease_s=30, stall_s=1)


@pytest.fixture
def rig(app, api, services, mongo_client):
    names = (f"lease_src_{secrets.token_hex(3)}", f"lease_dst_{secrets.token_hex(3)}")
    src, dst = mongo_client[names[0]]["items"], mongo_client[names[1]]["items"]
    src.insert_many([{"n": i} for i in range(25)])
    s = connection(api, "src", "mongodb", {"uri": services.mongo_url, "database": names[0], "collection": "items"})
    d = connection(api, "dst", "mongodb", {"uri": services.mongo_url, "database": names[1], "collection": "items"})
    url = create_pipeline(api, {"name": "lease", "streamingSource": {"connection": {"connectionId": s}},
                                "streamingTarget": {"connection": {"connectionId": d}},
                                "advancedProperties": {"maxBatchSize": 10, "maxBatchWaitMs": 10}})
    stores = app.extensions["sluice.stores"]
    ns = api.get("/v1/namespaces/default-ns")[1]["namespace_id"]
    rig = {"stores": stores, "settings": app.config["SLUICE_SETTINGS"], "ns": ns, "pid": url.rsplit("/", 1)[1],
           "src": src, "dst": dst, "sent": [], "dst_conn": d}
    yield rig
    clients.close_all()
    for n in names:
        mongo_client.drop_database(n)


def send(rig):
    return lambda pid, epoch, chain, queue: rig["sent"].append((epoch, chain))


def step(rig, epoch, chain):
    return run_step(rig["stores"], rig["settings"], SS, rig["pid"], epoch, chain)


def doc(rig):
    return rig["stores"].streaming.by_id(rig["pid"])


def run_until(rig, epoch, chain, status, limit=20):
    for _ in range(limit):
        result = step(rig, epoch, chain)
        assert result.again, result
        if doc(rig)["status"] == status:
            return
    raise AssertionError(f"not {status} after {limit} steps: {doc(rig)['status']}")


def test_one_chain_at_a_time_and_stale_chains_exit(rig):
    stores = rig["stores"]
    control.command(stores, rig["ns"], rig["pid"], "START", None, send(rig))
    epoch, a = rig["sent"][-1]
    assert step(rig, epoch, a).action == "start" and doc(rig)["status"] == "SNAPSHOTTING"
    assert step(rig, epoch, "intruder").action == "exit"          # a live lease is not taken
    assert step(rig, epoch - 1, a).action == "exit"                # nor by an earlier epoch

    # the worker dies: no heartbeat, lease expired → the watchdog relaunches exactly once
    past = utcnow() - timedelta(seconds=60)
    stores.streaming.coll.update_one({"_id": rig["pid"]}, {"$set": {"lease_until": past, "heartbeat_at": past}})
    assert control.watchdog(stores, SS, send(rig)) == {"relaunched": 1, "stopped": 0}
    assert control.watchdog(stores, SS, send(rig)) == {"relaunched": 0, "stopped": 0}
    _, b = rig["sent"][-1]
    assert b != a and doc(rig)["recoveries"] == 1
    assert step(rig, epoch, a).action == "exit"                    # the dead chain's redelivered step
    run_until(rig, epoch, b, "STREAMING")
    assert doc(rig)["counters"]["snapshotRows"] == 25 and mirror_of(rig["dst"]) == mirror_of(rig["src"])

    # STOP is durable: the chain's next step honours it
    assert control.command(stores, rig["ns"], rig["pid"], "STOP", None, send(rig))["status"] == "STOPPING"
    assert step(rig, epoch, b).action == "stop" and doc(rig)["status"] == "NOT_RUNNING"
    assert step(rig, epoch, b).action == "exit"
    rig["src"].insert_one({"n": 100})
    control.command(stores, rig["ns"], rig["pid"], "START", False, send(rig))
    epoch2, c = rig["sent"][-1]
    assert epoch2 == epoch + 1
    assert step(rig, epoch, b).action == "exit"                    # a chain of the previous START
    run_until(rig, epoch2, c, "STREAMING")
    step(rig, epoch2, c)
    assert mirror_of(rig["dst"]) == mirror_of(rig["src"]) and doc(rig)["counters"]["changesCaptured"] == 1


def test_a_lease_lost_mid_step_writes_and_saves_nothing(rig, monkeypatch):
    stores = rig["stores"]
    control.command(stores, rig["ns"], rig["pid"], "START", False, send(rig))
    epoch, a = rig["sent"][-1]
    run_until(rig, epoch, a, "STREAMING")
    before = doc(rig)
    rig["src"].insert_one({"n": 500})
    real_renew = stores.streaming.renew

    def stolen(pid, ep, chain, until):  # another chain takes over while this one was reading
        stores.streaming.coll.update_one({"_id": pid}, {"$set": {"lease_owner": "thief"}})
        return real_renew(pid, ep, chain, until)
    monkeypatch.setattr(stores.streaming, "renew", stolen)
    assert step(rig, epoch, a).action == "lease_lost"
    after = doc(rig)
    assert rig["dst"].count_documents({}) == 0                      # nothing written after the loss
    assert after["resume_token"] == before["resume_token"] and after["counters"] == before["counters"]


def test_history_lost_and_a_vanished_connection_fail_the_pipeline(rig, monkeypatch, api):
    stores = rig["stores"]
    status, hook, _ = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/ops", "events": ["streaming.failed"]})
    assert status == 201, hook
    control.command(stores, rig["ns"], rig["pid"], "START", False, send(rig))
    epoch, a = rig["sent"][-1]
    run_until(rig, epoch, a, "STREAMING")

    def lost(self, token, max_await_ms, batch_size=None, start_at=None):
        raise HistoryLost("ChangeStreamHistoryLost")
    monkeypatch.setattr("shared.connectors.cdc.CdcSource.feed", lost)
    assert step(rig, epoch, a).action == "failed"
    st = api.get(f"/v1/projects/default-ns/streaming-pipelines/{rig['pid']}/status")[1]
    assert st["status"] == "FAILED" and st["error"] == HISTORY_LOST_MESSAGE
    status, deliveries, _ = api.get(f"/v1/webhooks/{hook['webhook_id']}/deliveries")
    events = [d for d in deliveries["results"] if d.get("event_type") == "streaming.failed"]
    assert status == 200 and len(events) == 1, deliveries      # the streaming.failed event is queued
    monkeypatch.undo()

    with pytest.raises(Conflict):    # the token is gone: START must say where to begin
        control.command(stores, rig["ns"], rig["pid"], "START", None, send(rig))
    control.command(stores, rig["ns"], rig["pid"], "START", None, send(rig), "snapshot")   # FAILED → STARTING
    epoch, b = rig["sent"][-1]
    stores.connections.delete(rig["ns"], rig["dst_conn"])
    rig["src"].insert_one({"n": 7})
    for _ in range(10):
        if step(rig, epoch, b).action == "failed":
            break
    assert doc(rig)["status"] == "FAILED" and "does not exist" in doc(rig)["error"]


class _Raising:
    def watch(self, *args, **kw):
        raise OperationFailure("resume point may no longer be in the oplog", code=286)


def test_change_feed_maps_history_loss():
    with pytest.raises(HistoryLost, match="START again with resumeFrom"):
        with ChangeFeed(_Raising(), [], {"_data": "00"}):
            pass


def test_a_stop_during_the_snapshot_resumes_it_on_the_next_start(rig):
    stores = rig["stores"]
    control.command(stores, rig["ns"], rig["pid"], "START", None, send(rig))
    epoch, a = rig["sent"][-1]
    step(rig, epoch, a)                                            # STARTING → SNAPSHOTTING
    step(rig, epoch, a)                                            # one page of 10
    assert doc(rig)["snapshot"]["started"] and doc(rig)["counters"]["snapshotRows"] == 10
    control.command(stores, rig["ns"], rig["pid"], "STOP", None, send(rig))
    assert step(rig, epoch, a).action == "stop"
    control.command(stores, rig["ns"], rig["pid"], "START", None, send(rig))
    epoch, b = rig["sent"][-1]
    assert doc(rig)["run"]["mode"] == "resume_snapshot"
    run_until(rig, epoch, b, "STREAMING")
    assert doc(rig)["counters"]["snapshotRows"] == 15               # the rest of the 25, not again
    assert mirror_of(rig["dst"]) == mirror_of(rig["src"])


def test_infrastructure_errors_in_a_row_fail_the_pipeline(rig):
    stores = rig["stores"]
    control.command(stores, rig["ns"], rig["pid"], "START", False, send(rig))
    epoch, a = rig["sent"][-1]
    assert step(rig, epoch, a).action == "start"
    ss = StreamingSettings(lease_s=30, max_errors_in_row=3)
    assert control.note_error(stores, ss, rig["pid"], epoch, a, "AutoReconnect: gone") == (1, "streaming")
    assert control.note_error(stores, ss, rig["pid"], epoch, a, "AutoReconnect: gone") == (2, "streaming")
    assert control.note_error(stores, ss, rig["pid"], epoch, "other-chain", "x") is None
    assert control.note_error(stores, ss, rig["pid"], epoch, a, "AutoReconnect: gone") is None
    assert doc(rig)["status"] == "FAILED" and "3 infrastructure errors in a row" in doc(rig)["error"]


def test_several_collections_of_one_database(api, app, services, mongo_client):
    db_name, out_name = f"multi_{secrets.token_hex(3)}", f"multi_out_{secrets.token_hex(3)}"
    db, out = mongo_client[db_name], mongo_client[out_name]["all"]
    try:
        db.a.insert_many([{"_id": i, "src": "a"} for i in range(3)])
        db.b.insert_many([{"_id": i, "src": "b"} for i in range(2)])
        db.c.insert_one({"_id": 99, "src": "c"})              # not followed
        s = connection(api, "multi", "mongodb", {"uri": services.mongo_url, "database": db_name})
        d = connection(api, "out", "mongodb", {"uri": services.mongo_url, "database": out_name, "collection": "all"})
        url = create_pipeline(api, {"name": "multi", "streamingSource": {"connection": {"connectionId": s},
                                                                          "collections": ["a", "b"]},
                                    "streamingTarget": {"connection": {"connectionId": d}},
                                    "advancedProperties": {"maxBatchSize": 2, "maxBatchWaitMs": 10}})
        stores, pid, sent = app.extensions["sluice.stores"], url.rsplit("/", 1)[1], []
        ns = api.get("/v1/namespaces/default-ns")[1]["namespace_id"]
        control.command(stores, ns, pid, "START", None, lambda *a: sent.append(a))
        _, epoch, chain, _ = sent[-1]
        settings = app.config["SLUICE_SETTINGS"]
        for _ in range(10):
            run_step(stores, settings, SS, pid, epoch, chain)
        assert stores.streaming.by_id(pid)["status"] == "STREAMING"
        assert sorted(d["_id"] for d in out.find()) == ["a:0", "a:1", "a:2", "b:0", "b:1"]
        db.a.delete_one({"_id": 0})
        db.b.update_one({"_id": 1}, {"$set": {"x": 1}})
        db.c.insert_one({"_id": 100})
        for _ in range(4):
            run_step(stores, settings, SS, pid, epoch, chain)
        assert {d["_id"]: d.get("x") for d in out.find()} == {"a:1": None, "a:2": None, "b:0": None, "b:1": 1}
        assert stores.streaming.by_id(pid)["counters"]["changesCaptured"] == 2
    finally:
        clients.close_all()
        mongo_client.drop_database(db_name)
        mongo_client.drop_database(out_name)


def test_an_unreachable_webhook_is_retried_not_dropped(rig, api):
    from shared.connectors.streaming_targets import TargetUnavailable

    hook = connection(api, "down", "webhook", {"url": "http://127.0.0.1:9/down", "max_attempts": 1})
    url = create_pipeline(api, {"name": "to-down", "streamingSource": {"connection": {"connectionId": "src"}},
                                "streamingTarget": {"connection": {"connectionId": hook}}})
    pid, stores, sent = url.rsplit("/", 1)[1], rig["stores"], []
    control.command(stores, rig["ns"], pid, "START", None, lambda *a: sent.append(a))
    _, epoch, chain, _ = sent[-1]
    assert run_step(stores, rig["settings"], SS, pid, epoch, chain).action == "start"
    before = stores.streaming.by_id(pid)
    with pytest.raises(TargetUnavailable, match="webhook unavailable"):
        run_step(stores, rig["settings"], SS, pid, epoch, chain)
    after = stores.streaming.by_id(pid)
    assert after["snapshot"] == before["snapshot"] and after["counters"] == before["counters"]
