"""The Celery app the benchmark's workers run: Sluice's own app (every engine task, the same
configuration) plus one hand-written task, the "floor".

    celery -A tests.benchmarks.bench_app worker -Q default,control ...

`bench.floor_chunk(stage, lo, hi, src, dst, src_filter)` is what a minimal hand-written Celery
task does with a chunk: one bulk read of the records with lo <= _id < hi, the stage's
extractor on each record (the same extractor code the engine runs for that tier), and one
bulk upsert into `dst`. No chunk rows, no batch row, no document lineage, no status updates.
Like the engine's module, nothing happens at import: `app` is built on first access.
"""
from __future__ import annotations

import time
from typing import Any

from celery import Celery

FLOOR_CHUNK = "bench.floor_chunk"

_app: Celery | None = None


def create_bench_celery() -> Celery:
    from workers.app import create_celery, runtime

    from tests.benchmarks.bench_dag import floor_outputs, floor_writes

    celery = create_celery()

    @celery.task(name=FLOOR_CHUNK, acks_late=True)
    def floor_chunk(stage: int, lo: str, hi: str | None, src: str, dst: str,
                    src_filter: dict | None = None) -> dict:
        from shared.timeutil import utcnow

        started, t_start = time.monotonic(), time.time()
        db = runtime(celery).mongo.db            # the worker process's own lazy client
        bounds: dict[str, Any] = {"$gte": lo}
        if hi is not None:
            bounds["$lt"] = hi
        rows = list(db[src].find({**(src_filter or {}), "_id": bounds}).sort("_id", 1))
        outputs = floor_outputs(stage, rows, celery.conf.sluice_settings)
        if outputs:
            db[dst].bulk_write(floor_writes(outputs, utcnow()), ordered=False)
        return {"n": len(outputs), "ms": int((time.monotonic() - started) * 1000),
                "t_start": t_start, "t_end": time.time()}

    return celery


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = create_bench_celery()
        return _app
    raise AttributeError(name)
