"""Worker-side metrics kept in MongoDB: counters and histograms updated with `$inc`.

Workers are many processes on many hosts; Prometheus scrapes the API. Counting in MongoDB
(once per completed chunk, right after the chunk ledger's exactly-once completion) makes
the figures safe across processes, hosts and restarts; `/metrics` reads them back."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from pymongo import UpdateOne

from shared.stores.base import Store

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def _key(name: str, labels: Mapping[str, str]) -> str:
    return name + "|" + "|".join(f"{k}={labels[k]}" for k in sorted(labels))


class MetricsStore(Store):
    collection_name = "metrics"
    namespaced = False

    @staticmethod
    def inc_op(name: str, labels: Mapping[str, str], value: float = 1.0) -> UpdateOne:
        return UpdateOne({"_id": _key(name, labels)},
                         {"$inc": {"value": value}, "$setOnInsert": {"name": name, "labels": dict(labels),
                                                                    "type": "counter"}}, upsert=True)

    @staticmethod
    def observe_op(name: str, labels: Mapping[str, str], value: float,
                   buckets: Iterable[float] = DURATION_BUCKETS) -> UpdateOne:
        inc: dict[str, Any] = {"sum": value, "count": 1}
        for le in buckets:
            if value <= le:
                inc[f"buckets.{str(le).replace('.', '_')}"] = 1
        return UpdateOne({"_id": _key(name, labels)},
                         {"$inc": inc, "$setOnInsert": {"name": name, "labels": dict(labels),
                                                        "type": "histogram", "le": list(buckets)}}, upsert=True)

    def apply(self, ops: list[UpdateOne]) -> None:
        """Several updates in one round trip (a chunk records its figures at once)."""
        if ops:
            self.coll.bulk_write(ops, ordered=False)

    def inc(self, name: str, labels: Mapping[str, str], value: float = 1.0) -> None:
        if value:
            self.apply([self.inc_op(name, labels, value)])

    def observe(self, name: str, labels: Mapping[str, str], value: float,
                buckets: Iterable[float] = DURATION_BUCKETS) -> None:
        self.apply([self.observe_op(name, labels, value, buckets)])

    def all(self) -> list[dict]:
        return list(self.coll.find({}))
