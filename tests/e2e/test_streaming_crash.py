"""`kill -9` of the whole streaming worker while changes keep arriving: the watchdog relaunches
the pipeline from its last saved resume token on a new worker, and the target converges to the
source exactly (writes are keyed by the source `_id`, counters are saved with the token)."""
from __future__ import annotations

import random
import secrets
import threading
import time

import redis

from shared.engine.streaming.config import STREAM_WATCHDOG
from tests.support.pipelines import connection
from tests.support.streaming import (WORKER_QUEUES, command, converge, create_pipeline, follow_status,
                                     mirror_of)
from tests.support.waiting import wait_until

# Short lease/stall so the watchdog takes over quickly. The dead worker's unacked step comes back
# only after the (default, 1 h) visibility timeout; a chain taken over must then exit, which
# test_streaming_lease.py checks deterministically.
ENV = {"SLUICE_STREAM_LEASE_S": "3", "SLUICE_STREAM_STALL_S": "2"}


class Writer(threading.Thread):
    """Inserts, updates and deletes for `seconds`, counting the change events it caused."""

    def __init__(self, coll, seconds: float):
        super().__init__(daemon=True)
        self.coll, self.seconds, self.events, self.error = coll, seconds, 0, None
        self.rng = random.Random(7)

    def run(self) -> None:
        try:
            deadline, n = time.monotonic() + self.seconds, 10_000
            while time.monotonic() < deadline:
                op, target = self.rng.random(), {"n": self.rng.randrange(n)}
                if op < 0.5:
                    self.coll.insert_one({"n": n, "v": 0})
                    n += 1
                    self.events += 1
                elif op < 0.85:
                    self.events += self.coll.update_one(target, {"$inc": {"v": 1}}).modified_count
                else:
                    self.events += self.coll.delete_one(target).deleted_count
                time.sleep(0.002)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_kill_9_of_the_streaming_worker_loses_and_duplicates_nothing(app, api, services, mongo_client, start_worker):
    src_name, dst_name = f"crash_src_{secrets.token_hex(3)}", f"crash_dst_{secrets.token_hex(3)}"
    src, dst = mongo_client[src_name]["items"], mongo_client[dst_name]["items"]
    try:
        src.insert_many([{"n": i, "v": 0} for i in range(10_000)])
        src_conn = connection(api, "src", "mongodb", {"uri": services.mongo_url, "database": src_name,
                                                      "collection": "items"})
        dst_conn = connection(api, "dst", "mongodb", {"uri": services.mongo_url, "database": dst_name,
                                                      "collection": "items"})
        url = create_pipeline(api, {"name": "crash", "streamingSource": {"connection": {"connectionId": src_conn}},
                                    "streamingTarget": {"connection": {"connectionId": dst_conn}},
                                    "advancedProperties": {"maxBatchSize": 2000, "maxBatchWaitMs": 1000}})
        w1 = start_worker(queues=WORKER_QUEUES, concurrency=1, env=ENV)
        command(api, url, "START")
        follow_status(api, url, {"STREAMING"}, 60)

        writer = Writer(src, seconds=6.0)
        writer.start()
        wait_until(lambda: follow_status(api, url, {"STREAMING"}, 5)["counters"]["changesCaptured"] >= 100, 20,
                   message="some changes streamed before the kill")
        beat_at_kill = follow_status(api, url, {"STREAMING"}, 5)["heartbeatAt"]
        w1.kill()
        killed_at = time.monotonic()
        if services.started_redis:
            # A kill between a step's publishing its successor and its ack leaves the chain alive
            # in the queue; drop queued steps so that only the watchdog can bring it back.
            client = redis.Redis.from_url(services.redis_url)
            client.delete("streaming")
            client.close()
        w2 = start_worker(queues=WORKER_QUEUES, concurrency=1, env=ENV)
        sender = app.extensions["sluice.tasks"]

        def recovered():
            sender.send(STREAM_WATCHDOG)
            st = follow_status(api, url, {"STREAMING"}, 5)
            relaunched = st["recoveries"] >= 1 or not services.started_redis
            return st if relaunched and st["heartbeatAt"] > beat_at_kill else None
        try:
            wait_until(recovered, 60, interval=0.5, message="the watchdog to relaunch the pipeline")
        except AssertionError:
            print("W1", w1.output()[-3000:], "\nW2", w2.output()[-6000:], api.get(f"{url}/status")[1])
            raise
        recovery_s = time.monotonic() - killed_at
        writer.join(30)
        assert writer.error is None and not writer.is_alive()
        converge(lambda: mirror_of(src), lambda: mirror_of(dst), 60, "the target after kill -9")
        # counters are saved atomically with the resume token: every event was counted once
        st = wait_until(lambda: (s := follow_status(api, url, {"STREAMING"}, 5))["counters"]["changesCaptured"]
                        == writer.events and s, 30, message=f"{writer.events} changes counted exactly once")
        assert st["counters"]["failed"] == 0 and st["error"] is None
        print(f"writer events {writer.events}; recovered {recovery_s:.1f}s after kill -9; status {st}")
        command(api, url, "STOP")
        follow_status(api, url, {"NOT_RUNNING"}, 30)
    finally:
        mongo_client.drop_database(src_name)
        mongo_client.drop_database(dst_name)
