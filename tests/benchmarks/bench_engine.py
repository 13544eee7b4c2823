"""Batch-engine benchmark: a 3-tier DAG through real Celery workers versus a hand-written floor.

    ./dev bench                                  # 20,000 and 100,000 objects (~3-4 min on 2 cores)
    ./dev bench --sizes 2000                     # quick smoke check (~15 s)
    ./dev bench --sizes 20000 --chunk-size 200 --pool threads --repeat 3 --json /tmp/bench.json
    ./dev bench --mongod-cache-gb 2              # a mongod with a production-like cache

For each N (and each --repeat): private MongoDB/Redis (ensure_services: MONGO_URL/REDIS_URL are
honoured), a fresh database, the DAG of bench_dag.py created through the API (Flask test
client), N objects bulk-loaded straight into the object store (not timed), then ONE fresh
worker process group (`celery -A tests.benchmarks.bench_app worker -c CONCURRENCY -P POOL
-Q default,control`) that runs, in this order:

  warm-up  a small separate bucket through both the engine and the floor (not timed);
  engine   POST /v1/collections/clean/trigger, then GET /v1/batches/{id} until terminal;
  floor    3 stages, one Celery group of `bench.floor_chunk` tasks per stage, each waited for.
           Same chunk size and workers; per chunk one _id-range read, the tier's extractor
           (the very code the engine runs), one unordered bulk of upserts keyed by source id
           into a plain collection (bench_app.py). No chunk/batch rows, lineage or statuses.

  ceiling  no queue at all (bench_ceiling.py): as many plain processes as --concurrency, per
           range one read, the same extractor code, one insert_many; stages one after another.

Figures:
  engine obj/s = N / (batch.completed_at - the moment before the trigger request): source
                 objects carried through all 3 tiers per second, end to end (trigger, count,
                 enqueue, start, 3 tier launches, 3 x N/chunk chunk tasks, callbacks, finish).
  floor obj/s  = N / wall time of the 3 stages, including the driver's _id-boundary scan per
                 stage (the engine does the same scan in its tier launch).
  ratio        = engine obj/s / floor obj/s (the median over --repeat runs); engine/ceiling
                 likewise, for throughput and for CPU per object.
  peak RSS     = peak over 0.2 s samples of the summed VmRSS of the worker's main process and
                 all its children, during the engine run (a fresh worker per N, so peaks at
                 different N compare). PSS (shared pages split between processes) is shown too.
  engine ms    = from the batch and chunk rows: start (trigger -> batch started); per tier
                 launch (previous tier closed -> chunks planned), wall (tier started -> closed),
                 busy (sum of process_chunk durations; wall ~ busy / concurrency when the pool
                 is saturated), close (last chunk done -> chord callback closed the tier).
  CPU s        = CPU seconds per process group during each run; "other" is the rest of the
                 machine: a run where it is high shared the CPUs with something else (a warning
                 is printed) and its wall-time figures are unreliable.
  CPU ms/object= (worker + mongod + redis CPU seconds) / N: the cost of the system under test,
                 which stays stable on a busy machine (mongod counted only when we started it,
                 or with --mongod-pid); floor/engine of it is a noise-resistant ratio.
Targets (issue): ratio >= 0.7, engine >= 5,000 obj/s, peak RSS flat as N grows (here: the
largest N's peak within 20 % of the smallest N's). Exit status 1 when a run lost records.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

from tests.benchmarks import bench_dag
from tests.support.waiting import wait_until
from tests.benchmarks.bench_app import FLOOR_CHUNK
from tests.benchmarks.bench_ceiling import run_ceiling
from tests.benchmarks.bench_report import print_report, verdict
from tests.benchmarks.bench_procs import (BenchWorker, CpuMeter, MemorySampler, descendants,
                                          start_mongod_with_cache)

ADMIN_KEY = "sk_bench_admin_" + secrets.token_hex(8)
TERMINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Api:
    """Our headers over Flask's test client (as tests/conftest.py's Api)."""

    def __init__(self, client: Any, namespace: str | None = None):
        self.client, self.namespace = client, namespace

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        if self.namespace:
            headers["X-Namespace"] = self.namespace
        resp = self.client.open(path, method=method, json=body, headers=headers)
        return resp.status_code, resp.get_json(silent=True)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, out = self.call(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {out}")
        return out


# -- set-up ------------------------------------------------------------------------------------
def create_dag(api: Api, bucket: str, prefix: str) -> list[str]:
    api.ok("POST", "/v1/buckets", bench_dag.bucket_body(bucket))
    names = []
    for body in bench_dag.collection_bodies(bucket, prefix):
        api.ok("POST", "/v1/collections", body)
        names.append(body["collection_name"])
    return names


def load_objects(stores: Any, ns_id: str, bucket: str, n: int) -> tuple[str, float]:
    """Bulk insert N objects through the object store (1,000 per bulk write)."""
    from shared.stores.objects import unique_hash

    doc = stores.buckets.get(ns_id, bucket)
    started = time.perf_counter()
    for lo in range(0, n, 1000):
        items = list(bench_dag.make_objects(lo, min(n, lo + 1000)))
        hashes = [unique_hash(doc["unique_key"], it["data"]) for it in items]
        stores.objects.write_many(doc, items, "insert", hashes)
    return doc["_id"], time.perf_counter() - started


# -- the engine --------------------------------------------------------------------------------
def _ms(a: datetime | None, b: datetime | None) -> int | None:
    return None if a is None or b is None else int((b - a).total_seconds() * 1000)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def run_engine(api: Api, stores: Any, collection: str, n: int, poll: float, timeout: float) -> dict:
    t0_wall = _naive(datetime.now(timezone.utc))
    t0 = time.perf_counter()
    trig = api.ok("POST", f"/v1/collections/{collection}/trigger", {})
    trigger_ms = int((time.perf_counter() - t0) * 1000)
    batch_id = trig["batch_id"]
    while True:
        view = api.ok("GET", f"/v1/batches/{batch_id}")
        if view["status"] in TERMINAL:
            break
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"batch {batch_id} did not finish in {timeout}s: {view}")
        time.sleep(poll)
    polled_s = time.perf_counter() - t0
    row = stores.batches.get(batch_id)
    seconds = (row["completed_at"] - t0_wall).total_seconds()
    problems = [] if view["status"] == "COMPLETED" else [f"batch {view['status']}: {view.get('error')}"]
    for t in view["tiers"]:
        if t["counters"]["processed"] != n or t["counters"]["written"] != n:
            problems.append(f"tier {t['tier_num']}: {t['counters']}")
    return {"batch_id": batch_id, "status": view["status"], "seconds": round(seconds, 3),
            "polled_seconds": round(polled_s, 3), "objects_per_s": round(n / seconds),
            "trigger_request_ms": trigger_ms, "problems": problems,
            "phases": engine_phases(stores, row, t0_wall)}


def engine_phases(stores: Any, row: dict, t0: datetime) -> dict:
    """Where the wall time went, from the batch row and its chunk rows (ms resolution)."""
    chunks = list(stores.batches.chunks.find({"batch_id": row["_id"]}))
    tiers, prev_end = [], row.get("started_at")
    for t in row["tiers"]:
        mine = [c for c in chunks if c["tier_num"] == t["tier_num"]]
        busy = sum(c.get("duration_ms") or 0 for c in mine)
        last_chunk = max((c["completed_at"] for c in mine if c.get("completed_at")), default=None)
        first_created = min((c["created_at"] for c in mine), default=None)
        tiers.append({
            "tier": t["tier_num"], "chunks": len(mine),
            # previous tier closed (or batch started) -> this tier's chunks planned and written
            "launch_ms": _ms(prev_end, t.get("started_at")),
            "plan_ms": _ms(first_created, t.get("started_at")),
            "wall_ms": _ms(t.get("started_at"), t.get("completed_at")),
            "chunk_busy_ms": busy,                      # sum of process_chunk durations
            "chunk_avg_ms": round(busy / len(mine), 1) if mine else None,
            # last chunk done -> chord callback closed the tier
            "close_ms": _ms(last_chunk, t.get("completed_at"))})
        prev_end = t.get("completed_at")
    return {"start_ms": _ms(t0, row.get("started_at")), "tiers": tiers,
            "finish_ms": _ms(prev_end, row.get("completed_at"))}


# -- the floor ---------------------------------------------------------------------------------
def id_ranges(coll: Any, query: dict, size: int) -> list[tuple[Any, Any]]:
    starts = [r["_id"] for i, r in enumerate(coll.find(query, {"_id": 1}).sort("_id", 1)) if i % size == 0]
    return [(lo, starts[k + 1] if k + 1 < len(starts) else None) for k, lo in enumerate(starts)]


def run_floor(celery: Any, db: Any, bucket_id: str, prefix: str, n: int, chunk: int,
              timeout: float) -> dict:
    from celery import group

    src, src_filter, stages, problems = "objects", {"bucket_id": bucket_id}, [], []
    for stage in range(3):
        db[f"{prefix}{stage}"].drop()
    t0 = time.perf_counter()
    for stage in range(3):
        ts = time.perf_counter()
        dst = f"{prefix}{stage}"
        ranges = id_ranges(db[src], src_filter, chunk)
        scan_ms = int((time.perf_counter() - ts) * 1000)
        sigs = [celery.signature(FLOOR_CHUNK, args=(stage, lo, hi, src, dst, src_filter), queue="default")
                for lo, hi in ranges]
        t_send = time.time()
        sent = group(sigs).apply_async()
        # One get() per result: GroupResult.get() itself adds ~0.5 s (a polling interval).
        results = [r.get(timeout=timeout) for r in sent.results]
        t_got = time.time()
        done = sum(r["n"] for r in results)
        if done != n:
            problems.append(f"stage {stage}: {done} of {n} records")
        stages.append({"stage": stage, "chunks": len(ranges), "scan_ms": scan_ms,
                       "wall_ms": int((time.perf_counter() - ts) * 1000),
                       "chunk_busy_ms": sum(r["ms"] for r in results),
                       # sent -> first chunk started; last chunk ended -> the driver had all results
                       "dispatch_ms": int((min(r["t_start"] for r in results) - t_send) * 1000) if results else 0,
                       "collect_ms": int((t_got - max(r["t_end"] for r in results)) * 1000) if results else 0})
        src, src_filter = dst, {}
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 3), "objects_per_s": round(n / seconds), "stages": stages,
            "problems": problems}


# -- one size ----------------------------------------------------------------------------------
def run_size(services: Any, celery: Any, args: argparse.Namespace, n: int) -> dict:
    from api.app import create_app
    from shared.settings import Settings

    db_name = f"sluice_bench_{secrets.token_hex(4)}"
    env = {**services.env(), "SLUICE_DB": db_name, "SLUICE_ADMIN_KEY": ADMIN_KEY,
           "SLUICE_CHUNK_SIZE": str(args.chunk_size)}
    settings = Settings.from_env(env)
    app = create_app(settings)
    stores = app.extensions["sluice.stores"]
    worker = sampler = None
    try:
        ns = Api(app.test_client()).ok("POST", "/v1/namespaces", {"namespace_name": "bench"})
        api = Api(app.test_client(), "bench")
        ns_id = ns.get("namespace_id") or stores.namespaces.coll.find_one({})["_id"]
        names = create_dag(api, bench_dag.BUCKET, "")
        warm_names = create_dag(api, "warmup", "warm-")
        warm_n = max(200, 2 * args.chunk_size * args.concurrency)
        warm_bucket, _ = load_objects(stores, ns_id, "warmup", warm_n)
        log(f"N={n:,}: loading objects")
        bucket_id, load_s = load_objects(stores, ns_id, bench_dag.BUCKET, n)
        log(f"N={n:,}: loaded in {load_s:.1f} s; starting worker (-c {args.concurrency} -P {args.pool})")
        worker = BenchWorker({**os.environ, **env, "PYTHONUNBUFFERED": "1"}, args.concurrency, args.pool,
                             args.worker_loglevel).start(celery)
        sampler = MemorySampler(worker.pid, interval=args.sample_interval)
        sampler.start()
        # An idle baseline (a few memory samples with PSS) before any work.
        wait_until(lambda: (sampler.peaks.get("idle") or {}).get("samples", 0) >= 5, 30,
                   message="idle memory samples")
        warm = run_engine(api, stores, warm_names[0], warm_n, args.poll, args.timeout)
        run_floor(celery, stores.mongo.db, warm_bucket, "bench_floor_warm_", warm_n, args.chunk_size,
                  args.timeout)
        log(f"N={n:,}: warm-up done ({warm['status']}); engine run")
        order = (["floor", "engine"] if args.floor_first else ["engine", "floor"]) + \
            ([] if args.no_ceiling else ["ceiling"])
        out: dict[str, Any] = {}
        service_pids = {"mongod": [p.pid for p in services.procs if "mongod" in str(p.args)] or args.mongod_pid,
                        "redis": [p.pid for p in services.procs if "redis" in str(p.args)]}
        meter = CpuMeter({"worker": lambda: descendants(worker.pid), "driver": lambda: [os.getpid()],
                          **{k: (lambda v=v: v) for k, v in service_pids.items() if v}})
        for what in order:
            sampler.set_phase(what)
            meter.start()
            if what == "engine":
                out["engine"] = run_engine(api, stores, names[0], n, args.poll, args.timeout)
            elif what == "floor":
                out["floor"] = run_floor(celery, stores.mongo.db, bucket_id, "bench_floor_", n,
                                         args.chunk_size, args.timeout)
            else:
                out["ceiling"] = run_ceiling(stores.mongo.db, settings.mongo_url, settings, bucket_id,
                                             "bench_ceiling_", n, args.chunk_size, args.concurrency, args.timeout)
            cpu = out[what]["cpu_seconds"] = meter.stop()
            if what == "ceiling":
                # Its processes have exited by now: they report their own CPU, which the
                # meter saw as "other"; the idle Celery worker is not part of it.
                own = out[what].pop("process_cpu_s")
                cpu["other"] = round(max(0.0, cpu["other"] - own), 2)
                cpu["worker"] = own
            # Noise-resistant cost: CPU of the system under test (workers, MongoDB, Redis) per
            # source object; unlike wall time it hardly moves when other jobs share the CPUs.
            out[what]["cpu_ms_per_object"] = round(
                sum(cpu.get(k, 0.0) for k in ("worker", "mongod", "redis")) * 1000 / n, 3)
            out[what]["cpu_ms_per_object_by_process"] = {
                k: round(cpu.get(k, 0.0) * 1000 / n, 3) for k in ("worker", "mongod", "redis")}
            log(f"N={n:,}: {what} {out[what]['objects_per_s']:,} obj/s ({out[what]['seconds']} s)")
        sampler.set_phase("done")
        out["engine"]["result_keys"] = result_key_ttls(celery.backend.client)
        peaks = sampler.peaks
        engine, floor, ceiling = out["engine"], out["floor"], out.get("ceiling")
        return {"n": n, "load_seconds": round(load_s, 1), "engine": engine, "floor": floor, "ceiling": ceiling,
                "ratio": round(engine["objects_per_s"] / floor["objects_per_s"], 3),
                "ceiling_ratio": round(engine["objects_per_s"] / ceiling["objects_per_s"], 3) if ceiling else None,
                "ceiling_cpu_ratio": round(engine["cpu_ms_per_object"] / ceiling["cpu_ms_per_object"], 3)
                if ceiling and ceiling["cpu_ms_per_object"] else None,
                "memory_mb": {"idle": peaks.get("idle"), "engine": peaks.get("engine"),
                              "floor": peaks.get("floor")}}
    finally:
        try:
            if sampler is not None:
                sampler.stop()
        finally:
            if worker is not None:
                if args.verbose:
                    print(worker.output(), file=sys.stderr)
                worker.stop()
        stores.mongo.client.drop_database(db_name)
        stores.mongo.close()
        if services.started_redis:          # only a Redis we started may be flushed
            celery.backend.client.flushdb()


def result_key_ttls(client: Any) -> dict:
    """What the runs left in the Redis result backend: task results and chord counters, and
    how many of them have no TTL (the backend must not grow without bound). Read-only."""
    keys = [k for pattern in ("celery-task-meta-*", "chord-*", "*.j", "*.t") for k in client.scan_iter(pattern)]
    ttls = [client.ttl(k) for k in keys]
    return {"keys": len(keys), "without_ttl": sum(1 for t in ttls if t == -1),
            "max_ttl_s": max(ttls, default=0)}


def stop_process(proc: Any, workdir: Any = None) -> None:
    import shutil

    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001 - a stuck server is killed
            proc.kill()
            proc.wait(timeout=10)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000,100000", help="comma-separated N (default 20000,100000)")
    ap.add_argument("--concurrency", type=int, default=2, help="worker pool size (default 2)")
    ap.add_argument("--chunk-size", type=int, default=500, help="records per chunk task (default 500)")
    ap.add_argument("--pool", choices=["prefork", "threads", "solo"], default="prefork")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per N, each with a fresh database and worker; medians are reported")
    ap.add_argument("--floor-first", action="store_true", help="run the floor before the engine")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the no-queue ceiling (bench_ceiling.py)")
    ap.add_argument("--json", metavar="PATH", help="write the figures here (default: print them last)")
    ap.add_argument("--poll", type=float, default=0.2, help="batch poll interval, s (default 0.2)")
    ap.add_argument("--sample-interval", type=float, default=0.2, help="RSS sample interval, s")
    ap.add_argument("--timeout", type=float, default=900, help="per run, s")
    ap.add_argument("--worker-loglevel", default="INFO")
    ap.add_argument("--target-ratio", type=float, default=0.7)
    ap.add_argument("--target-rate", type=float, default=5000)
    ap.add_argument("--mongod-cache-gb", type=float, default=None,
                    help="start our own mongod with this WiredTiger cache (the private default "
                         "is 0.25 GB, which throttles writes from ~100k documents on)")
    ap.add_argument("--mongod-pid", type=int, action="append", default=[],
                    help="with MONGO_URL: the server's pid, to count its CPU time")
    ap.add_argument("--verbose", action="store_true", help="print the worker log")
    args = ap.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    return args


@contextmanager
def bench_services(cache_gb: float | None, mongod_pids: list[int]) -> Iterator[tuple[Any, Any]]:
    """(services, driver Celery client) for a benchmark run, stopped afterwards: private
    MongoDB/Redis (or MONGO_URL/REDIS_URL), with our own mongod of `cache_gb` GB of cache when
    given (its pid appended to `mongod_pids`, so its CPU is counted)."""
    from cli.localservices import ensure_services
    from shared.settings import Settings
    from workers.app import create_celery

    own_mongod = mongod_dir = None
    environ = dict(os.environ)
    if cache_gb:
        url, own_mongod, mongod_dir = start_mongod_with_cache(cache_gb)
        environ["MONGO_URL"] = url
        mongod_pids.append(own_mongod.pid)
    try:
        services = ensure_services(environ)
    except BaseException:
        stop_process(own_mongod, mongod_dir)
        raise
    log(f"services: mongo {services.mongo_url}  redis {services.redis_url}")
    try:
        # The driver's Celery client (one per process: Celery shares task registrations
        # between apps of a process): pings workers, sends and waits for the floor's tasks.
        celery = create_celery(Settings.from_env(services.env()))
        try:
            yield services, celery
        finally:
            celery.close()
    finally:
        services.stop()
        stop_process(own_mongod, mongod_dir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_services(args.mongod_cache_gb, args.mongod_pid) as (services, celery):
        results = [run_size(services, celery, args, n) for n in args.size_list for _ in range(args.repeat)]
    summary = verdict(results, args.target_ratio, args.target_rate)
    print_report(results, args, summary)
    doc = {"config": {"sizes": args.size_list, "chunk_size": args.chunk_size,
                      "concurrency": args.concurrency, "pool": args.pool, "floor_first": args.floor_first,
                      "repeat": args.repeat, "mongod_cache_gb": args.mongod_cache_gb or
                      (None if os.environ.get("MONGO_URL") else 0.25),
                      "cpus": os.cpu_count(), "python": platform.python_version()},
           "results": results, "summary": summary}
    text = json.dumps(doc, indent=2, default=str)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
        print(f"figures written to {args.json}")
    else:
        print(text)
    return 1 if summary["problems"] else 0
