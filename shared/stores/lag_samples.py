"""Lag of streaming pipelines over time, for the console's chart (the pipeline row keeps
only the latest value). One sample per pipeline per SAMPLE_EVERY_S and process at most:
steps run several times a second, and a chart of the last hour needs no more. Rows expire
through a TTL index."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.stores.base import ASCENDING, IndexModel, Store
from shared.timeutil import utcnow

SAMPLE_EVERY_S = 15.0
KEEP_S = 2 * 3600


class LagSampleStore(Store):
    collection_name = "streaming_lag_samples"
    namespaced = False   # rows name their pipeline and expire on their own

    def __init__(self, db: Any, every_s: float = SAMPLE_EVERY_S):
        super().__init__(db)
        self.every_s = every_s
        self._last: dict[str, float] = {}   # pipeline id -> monotonic time of this process's last sample

    def indexes(self) -> list[IndexModel]:
        return [IndexModel([("at", ASCENDING)], expireAfterSeconds=KEEP_S),
                IndexModel([("pipeline_id", ASCENDING), ("at", ASCENDING)])]

    def record(self, pipeline_id: str, lag_seconds: float | None) -> bool:
        if lag_seconds is None:
            return False
        now = time.monotonic()
        if now - self._last.get(pipeline_id, -1e9) < self.every_s:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[pipeline_id] = now
        self.coll.insert_one({"pipeline_id": pipeline_id, "lag_seconds": float(lag_seconds), "at": utcnow()})
        return True

    def series(self, pipeline_id: str, since: datetime) -> list[tuple[datetime, float]]:
        rows = self.coll.find({"pipeline_id": pipeline_id, "at": {"$gte": since}},
                              {"_id": 0, "at": 1, "lag_seconds": 1}).sort("at", 1).limit(2000)
        return [(r["at"], r["lag_seconds"]) for r in rows]
