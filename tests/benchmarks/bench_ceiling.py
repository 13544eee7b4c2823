"""The no-queue ceiling of the engine benchmark: what the 3-tier DAG costs with no Celery, no
Redis and no bookkeeping at all. As many plain processes as worker concurrency (a fork
pool); per stage the driver scans the source's _id boundaries (every `chunk` ids), and each
range is one task: one _id-range read, the stage's extractor (bench_dag.floor_outputs: the
very code the engine runs for that tier), one unordered insert_many into a plain
collection. Stages run one after the other. Each process reports its own CPU time, since
the pool's processes are gone when the run is measured."""
from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

_client: Any = None
_settings: Any = None


def _init(mongo_url: str, db_name: str, settings: Any) -> None:
    global _client, _settings
    import pymongo

    _client = pymongo.MongoClient(mongo_url, tz_aware=False)[db_name]
    _settings = settings


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _range_task(args: tuple) -> dict:
    from tests.benchmarks.bench_dag import floor_outputs
    from shared.timeutil import utcnow

    stage, lo, hi, src, dst, src_filter = args
    c0 = _cpu()
    bounds: dict[str, Any] = {"$gte": lo}
    if hi is not None:
        bounds["$lt"] = hi
    rows = list(_client[src].find({**(src_filter or {}), "_id": bounds}).sort("_id", 1))
    outputs = floor_outputs(stage, rows, _settings)
    now = utcnow()
    if outputs:
        _client[dst].insert_many([{"_id": sid, "source_id": sid, "data": data, "created_at": now, "updated_at": now}
                                  for sid, data in outputs], ordered=False)
    return {"n": len(outputs), "cpu_s": _cpu() - c0}


def run_ceiling(db: Any, mongo_url: str, settings: Any, bucket_id: str, prefix: str, n: int, chunk: int,
                processes: int, timeout: float) -> dict:
    from tests.benchmarks.bench_engine import id_ranges

    src, src_filter, stages, problems, cpu = "objects", {"bucket_id": bucket_id}, [], [], 0.0
    for stage in range(3):
        db[f"{prefix}{stage}"].drop()
    pool = multiprocessing.get_context("fork").Pool(processes, _init, (mongo_url, db.name, settings))
    try:
        pool.map(_cpu_noop, range(processes))          # every process up and connected first
        t0 = time.perf_counter()
        for stage in range(3):
            ts = time.perf_counter()
            dst = f"{prefix}{stage}"
            ranges = id_ranges(db[src], src_filter, chunk)
            results = pool.map_async(_range_task, [(stage, lo, hi, src, dst, src_filter) for lo, hi in ranges],
                                     chunksize=1).get(timeout)
            done = sum(r["n"] for r in results)
            cpu += sum(r["cpu_s"] for r in results)
            if done != n:
                problems.append(f"ceiling stage {stage}: {done} of {n} records")
            stages.append({"stage": stage, "chunks": len(ranges), "wall_ms": int((time.perf_counter() - ts) * 1000)})
            src, src_filter = dst, {}
        seconds = time.perf_counter() - t0
    finally:
        pool.terminate()
        pool.join()
    return {"seconds": round(seconds, 3), "objects_per_s": round(n / seconds), "stages": stages,
            "problems": problems, "process_cpu_s": round(cpu, 2)}


def _cpu_noop(_: int) -> int:
    return os.getpid()
