"""The tick's compare-and-set on real MongoDB: concurrent schedulers fire an occurrence once."""
from __future__ import annotations

import threading
from datetime import timedelta


from shared.engine.runs.scheduler import tick
from shared.stores import Stores
from shared.timeutil import utcnow


def pipeline(pid: str, enabled: bool, next_run_at) -> dict:
    return {"_id": pid, "namespace_id": "ns_x", "enabled": enabled, "code": "", "update_time_field": None,
            "source": {}, "destination": {}, "active_run_id": None, "skipped": [],
            "schedule": {"period": "5m", "offset_s": 0, "next_run_at": next_run_at}, "created_at": utcnow()}


def test_eight_concurrent_ticks_fire_each_due_occurrence_once(settings):
    stores = Stores.from_settings(settings)
    try:
        now = utcnow()
        due = now - timedelta(seconds=5)
        stores.pipelines.create(pipeline("pipe_on", True, due))
        stores.pipelines.create(pipeline("pipe_off", False, due))
        stores.pipelines.create(pipeline("pipe_later", True, now + timedelta(minutes=3)))
        launched, lock = [], threading.Lock()
        barrier = threading.Barrier(8)

        def scheduler():
            barrier.wait()
            tick(stores, now, lambda run: (lock.acquire(), launched.append(run["pipeline"]), lock.release()))

        threads = [threading.Thread(target=scheduler) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert launched == ["pipe_on"]
        assert stores.runs.coll.count_documents({"pipeline": "pipe_on", "trigger": "schedule"}) == 1
        on = stores.pipelines.by_id("pipe_on")
        assert on["schedule"]["next_run_at"] == due + timedelta(minutes=5)  # from the schedule, not from now
        off = stores.pipelines.by_id("pipe_off")
        assert [s["reason"] for s in off["skipped"]] == ["pipeline is disabled"]
        assert stores.pipelines.by_id("pipe_later")["schedule"]["next_run_at"] > now
        # a run still in progress when the next occurrence comes: recorded as skipped
        tick(stores, due + timedelta(minutes=5, seconds=1), lambda run: None)
        on = stores.pipelines.by_id("pipe_on")
        assert on["skipped"][-1]["reason"] == "pipeline is already in progress"
    finally:
        stores.mongo.close()
