"""Streaming pipelines when the oplog moves on, with real workers and a private mongod whose
oplog is 1 MB (it rolls over within a second of filler writes): a quiet source keeps its
place, and a lost token restarts only with an explicit resumeFrom — each choice checked for
what it loses or repeats. The lag alert fires on a backlog."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from pymongo.errors import OperationFailure

from tests.support.http import SECRET
from tests.support.pipelines import connection
from tests.support.private_mongo import private_mongo_fixtures
from tests.support.streaming import (WORKER_QUEUES, command, converge, create_pipeline, follow_status,
                                     mirror_of)
from tests.support.waiting import wait_until

services, mongo_client = private_mongo_fixtures()
FILLER = "x" * 100_000


def oplog_start(client):
    return client.local.oplog.rs.find().sort("$natural", 1).limit(1).next()["ts"]


def oplog_end(client):
    return client.local.oplog.rs.find().sort("$natural", -1).limit(1).next()["ts"]


def roll_oplog(client, past) -> None:
    """Write filler until the oplog's oldest entry is newer than `past` (a bson Timestamp)."""
    filler = client["sluice_filler"]["junk"]
    deadline = time.monotonic() + 60
    for _ in range(2000):
        if oplog_start(client) > past:
            filler.drop()
            return
        assert time.monotonic() < deadline, "the oplog did not roll over within 60 s"
        filler.insert_many([{"b": FILLER} for _ in range(10)])
    raise AssertionError("the oplog did not roll over")


def token_of(client, settings, url: str) -> dict | None:
    doc = client[settings.mongo_db].streaming_pipelines.find_one({"_id": url.rsplit("/", 1)[1]})
    return doc.get("resume_token")


@pytest.fixture
def dbs(mongo_client):
    yield mongo_client["src_db"], mongo_client["dst_db"]
    mongo_client.drop_database("src_db")
    mongo_client.drop_database("dst_db")


def pipeline(api, services, src_db, dst_db, **advanced) -> str:
    src_conn = connection(api, "src", "mongodb", {"uri": services.mongo_url, "database": src_db.name,
                                                  "collection": "items"})
    dst_conn = connection(api, "dst", "mongodb", {"uri": services.mongo_url, "database": dst_db.name})
    return create_pipeline(api, {
        "name": "mirror", "streamingSource": {"connection": {"connectionId": src_conn}},
        "streamingTarget": {"connection": {"connectionId": dst_conn}, "collection": "items_copy"},
        "advancedProperties": {"maxBatchSize": 100, "maxBatchWaitMs": 200, **advanced}})


def test_a_source_idle_for_longer_than_the_oplog_window_still_resumes(api, services, mongo_client, settings, dbs,
                                                                      start_worker):
    src_db, dst_db = dbs
    src, dst = src_db["items"], dst_db["items_copy"]
    src.insert_one({"n": 0})
    url = pipeline(api, services, src_db, dst_db)
    start_worker(queues=WORKER_QUEUES)
    command(api, url, "START")
    follow_status(api, url, {"STREAMING"}, 60)
    src.insert_one({"n": 1})
    converge(lambda: mirror_of(src), lambda: mirror_of(dst), 30, "first change applied")
    with src.watch() as probe:           # the token of that last change, as an old engine kept it
        src.insert_one({"n": 2})
        last_change = probe.next()["_id"]
    converge(lambda: mirror_of(src), lambda: mirror_of(dst), 30, "second change applied")
    idle_from = oplog_end(mongo_client)
    roll_oplog(mongo_client, idle_from)  # the source stays quiet while the oplog moves on
    with pytest.raises(OperationFailure) as lost:
        with src.watch(resume_after=last_change) as stale:
            stale.try_next()
    assert lost.value.code == 286        # the last change's token is gone from the oplog
    # The pipeline's own token moved on with the oplog (post-batch resume tokens) ...
    wait_until(lambda: token_of(mongo_client, settings, url) not in (None, last_change), 10,
               message="the saved token to advance while idle")
    src.insert_one({"n": 3})
    # ... so it resumes: the next change arrives and it never FAILED.
    converge(lambda: mirror_of(src), lambda: mirror_of(dst), 30, "change after the idle period applied")
    st = follow_status(api, url, {"STREAMING"}, 5)
    assert st["error"] is None and not st["resumeTokenLost"], st


def test_a_lost_token_restarts_only_with_each_explicit_choice(api, services, mongo_client, dbs, event_receiver,
                                                             start_worker):
    src_db, dst_db = dbs
    src, dst = src_db["items"], dst_db["items_copy"]
    src.insert_many([{"_id": f"s{i}", "n": i} for i in range(3)])
    status, hook, _ = api.post("/v1/webhooks", json={"url": event_receiver.url, "secret": SECRET,
                                                     "events": ["streaming.lagging"]})
    assert status == 201, hook
    url = pipeline(api, services, src_db, dst_db, maxBatchSize=1, lagAlertSeconds=0.05)
    start_worker(queues=WORKER_QUEUES + ",webhooks")

    def lose_the_token() -> None:
        command(api, url, "STOP")
        follow_status(api, url, {"NOT_RUNNING"}, 30)
        roll_oplog(mongo_client, oplog_end(mongo_client))

    def fails_for_lost_token() -> None:
        command(api, url, "START")
        st = follow_status(api, url, {"FAILED"}, 30)
        assert st["resumeTokenLost"] and "resumeFrom" in st["error"], st
        status, body, _ = api.post(f"{url}/commands", json={"command": "START"})
        assert status == 409 and body["error"]["code"] == "resume_token_lost", body

    command(api, url, "START")
    follow_status(api, url, {"STREAMING"}, 60)
    converge(lambda: mirror_of(src), lambda: mirror_of(dst), 30, "snapshot copied")

    # "now": streams from now on; what changed while the token was lost is skipped.
    command(api, url, "STOP")
    follow_status(api, url, {"NOT_RUNNING"}, 30)
    src.insert_one({"_id": "lost", "n": 100})
    roll_oplog(mongo_client, oplog_end(mongo_client))
    fails_for_lost_token()
    status, body, _ = api.post(f"{url}/commands", json={"command": "START", "resumeFrom": "yesterday"})
    assert status == 400 and body["error"]["details"][0]["path"] == "resumeFrom", body
    assert command(api, url, "START", resumeFrom="now")["status"] == "STARTING"
    follow_status(api, url, {"STREAMING"}, 30)
    src.insert_one({"_id": "after-now", "n": 101})
    wait_until(lambda: dst.find_one({"_id": "after-now"}), 30, message="change after 'now' applied")
    assert dst.find_one({"_id": "lost"}) is None

    # A timestamp: replays every change from then on (a backlog: the lag alert fires).
    lose_the_token()
    fails_for_lost_token()
    boundary = int(time.time()) + 1
    wait_until(lambda: time.time() >= boundary, 5, interval=0.05, message="the next second")
    since = datetime.fromtimestamp(boundary, timezone.utc)
    src.insert_many([{"_id": f"t{i}", "n": 200 + i} for i in range(6)])
    assert command(api, url, "START", resumeFrom=since.isoformat())["status"] == "STARTING"
    wait_until(lambda: dst.count_documents({"_id": {"$regex": "^t"}}) == 6, 30, message="changes since the time")
    assert dst.find_one({"_id": "lost"}) is None
    wait_until(lambda: event_receiver.of_type("streaming.lagging"), 30, message="streaming.lagging delivered")
    event, signed, _ = event_receiver.of_type("streaming.lagging")[0]
    assert signed and event["data"]["lagSeconds"] > 0.05 and event["data"]["lagAlertSeconds"] == 0.05

    # "snapshot": copies the source again, so even the change "now" skipped arrives.
    lose_the_token()
    fails_for_lost_token()
    assert command(api, url, "START", resumeFrom="snapshot")["status"] == "STARTING"
    converge(lambda: mirror_of(src), lambda: mirror_of(dst), 60, "the source copied again")
    assert dst.find_one({"_id": "lost"}) is not None
