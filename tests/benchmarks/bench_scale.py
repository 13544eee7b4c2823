"""Scale benchmark: one large batch through the engine alone, watching what must not grow with N.

    ./dev bench --scale                                   # 1,000,000 objects (many minutes on 2 cores)
    ./dev bench --scale --sizes 100000,1000000 --mongod-cache-gb 2

For each N: private MongoDB/Redis (or MONGO_URL/REDIS_URL), the 3-tier DAG of bench_dag.py,
N objects bulk-loaded (not timed), one worker (`-c CONCURRENCY -P prefork`), then ONE trigger
of the engine (no floor, no ceiling: bench_engine.py compares those). Results expire from Redis
after --result-expires-s (default 60 s, so that "after expiry" is measured in the same run).
Printed per N:

  trigger       the POST .../trigger response time (it counts the input and plans tier 0);
  first tier    trigger -> tier 0's chunks planned and sent;
  objects/s     N / (completed_at - trigger), all three tiers;
  peak RSS      per process group, sampled every --sample-interval s: worker (main + children),
                mongod and redis (only those this benchmark started), the driver (API in-process);
  Redis         peak used_memory and key count during the run, the same once the results have
                expired, and the broker's queue length at its peak;
  MongoDB       data and index bytes per document (collStats of documents and objects).

`--profile PATH` runs one solo worker under cProfile instead and prints where its time went
(`./dev bench --scale --sizes 20000 --profile /tmp/worker.prof`).

Nothing that should stay flat may grow with N: worker RSS, Redis memory after expiry, per-
document sizes. Compare two sizes in one invocation (`--sizes 100000,1000000`) to see it.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
from typing import Any

from tests.benchmarks import bench_dag
from tests.benchmarks.bench_engine import ADMIN_KEY, Api, bench_services, create_dag, load_objects, log, run_engine
from tests.benchmarks.bench_procs import BenchWorker, CpuMeter, MemorySampler, descendants, rss_kb
from tests.support.waiting import wait_until


class ServiceSampler(threading.Thread):
    """Peak RSS of single-process services and peak Redis memory/keys/queue length."""

    def __init__(self, redis: Any, pids: dict[str, int], interval: float):
        super().__init__(daemon=True)
        self.redis, self.pids, self.interval = redis, pids, interval
        self.peaks: dict[str, float] = {}
        self._halt = threading.Event()

    def _peak(self, key: str, value: float) -> None:
        self.peaks[key] = max(self.peaks.get(key, 0.0), value)

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self._peak(f"{name}_rss_mb", round(rss_kb(pid) / 1024, 1))
        info = self.redis.info("memory")
        self._peak("redis_used_memory_mb", round(info["used_memory"] / 2**20, 2))
        self._peak("redis_keys", self.redis.dbsize())
        self._peak("broker_queue_len", sum(self.redis.llen(q) for q in self.redis.scan_iter("default*")
                                           if self.redis.type(q) == b"list"))

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a sample missed while a service restarts is no result
                pass
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def mongo_sizes(db: Any, n: int) -> dict:
    out = {}
    for name in ("documents", "objects"):
        st = db.command("collStats", name)
        count = st.get("count") or 0
        out[name] = {"count": count, "data_bytes": st.get("size"), "storage_bytes": st.get("storageSize"),
                     "index_bytes": st.get("totalIndexSize"), "indexes": st.get("nindexes"),
                     "data_bytes_per_doc": round(st["size"] / count, 1) if count else None,
                     "index_bytes_per_doc": round(st["totalIndexSize"] / count, 1) if count else None}
    return out


def run_size(services: Any, celery: Any, args: argparse.Namespace, n: int) -> dict:
    from api.app import create_app
    from shared.settings import Settings

    db_name = f"sluice_scale_{secrets.token_hex(4)}"
    env = {**services.env(), "SLUICE_DB": db_name, "SLUICE_ADMIN_KEY": ADMIN_KEY,
           "SLUICE_CHUNK_SIZE": str(args.chunk_size), "SLUICE_RESULT_EXPIRES_S": str(args.result_expires_s)}
    settings = Settings.from_env(env)
    app = create_app(settings)
    stores = app.extensions["sluice.stores"]
    redis = celery.backend.client
    worker = sampler = svc = None
    try:
        ns = Api(app.test_client()).ok("POST", "/v1/namespaces", {"namespace_name": "bench"})
        api = Api(app.test_client(), "bench")
        names = create_dag(api, bench_dag.BUCKET, "")
        log(f"N={n:,}: loading objects")
        _, load_s = load_objects(stores, ns["namespace_id"], bench_dag.BUCKET, n)
        log(f"N={n:,}: loaded in {load_s:.1f} s; starting worker (-c {args.concurrency})")
        worker = BenchWorker({**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                             1 if args.profile else args.concurrency, "solo" if args.profile else "prefork",
                             args.worker_loglevel)
        if args.profile:
            # One solo worker under cProfile: all chunk work runs in its main process, and
            # cProfile writes its stats when the warm shutdown's SystemExit unwinds.
            worker.cmd[1:1] = ["-m", "cProfile", "-o", f"{args.profile}.{n}"]
        worker.start(celery)
        sampler = MemorySampler(worker.pid, interval=args.sample_interval)
        sampler.start()
        pids = {"driver": os.getpid(), **{name: p.pid for p in services.procs for name in ("mongod", "redis")
                                          if name in str(p.args)}}
        if args.mongod_pid:
            pids["mongod"] = args.mongod_pid[0]
        redis_before = {"used_memory_mb": round(redis.info("memory")["used_memory"] / 2**20, 2),
                        "keys": redis.dbsize()}
        svc = ServiceSampler(redis, pids, args.sample_interval)
        svc.start()
        meter = CpuMeter({"worker": lambda: descendants(worker.pid),
                          **{k: (lambda v=v: [v]) for k, v in pids.items() if k in ("mongod", "redis")}})
        sampler.set_phase("engine")
        meter.start()
        engine = run_engine(api, stores, names[0], n, args.poll, args.timeout)
        cpu = meter.stop()
        sampler.set_phase("done")
        svc.stop()
        log(f"N={n:,}: engine {engine['objects_per_s']:,} obj/s ({engine['seconds']} s); "
            f"waiting {args.result_expires_s} s for results to expire")
        # Results and chord counters carry the TTL set above; wait for it, then some slack for
        # Redis's lazy/active expiry, bounded by the deadline.
        wait_until(lambda: not any(True for _ in redis.scan_iter("celery-task-meta-*", count=1000)),
                   args.result_expires_s + 120, interval=2.0, message="task results expired")
        redis_after = {"used_memory_mb": round(redis.info("memory")["used_memory"] / 2**20, 2),
                       "keys": redis.dbsize()}
        return {"n": n, "load_seconds": round(load_s, 1), "engine": engine,
                "trigger_ms": engine["trigger_request_ms"], "cpu_seconds": cpu,
                "cpu_ms_per_object": {k: round(cpu.get(k, 0.0) * 1000 / n, 3) for k in ("worker", "mongod", "redis")},
                "first_tier_launched_ms": (engine["phases"]["start_ms"] or 0)
                + (engine["phases"]["tiers"][0]["launch_ms"] or 0),
                "peak_rss_mb": {"worker": (sampler.peaks.get("engine") or {}).get("rss_mb"),
                                **{k.removesuffix("_rss_mb"): v for k, v in svc.peaks.items()
                                   if k.endswith("_rss_mb")}},
                "redis": {"before": redis_before,
                          "peak_used_memory_mb": svc.peaks.get("redis_used_memory_mb"),
                          "peak_keys": int(svc.peaks.get("redis_keys", 0)),
                          "peak_broker_queue_len": int(svc.peaks.get("broker_queue_len", 0)),
                          "after_expiry": redis_after},
                "mongo": mongo_sizes(stores.mongo.db, n)}
    finally:
        for thing in (svc, sampler):
            if thing is not None:
                thing.stop()
        if worker is not None:
            worker.stop()
            if args.profile:
                print_profile(f"{args.profile}.{n}")
        stores.mongo.client.drop_database(db_name)
        stores.mongo.close()


def print_profile(path: str, top: int = 30) -> None:
    import pstats

    if not os.path.exists(path):
        log(f"no profile written to {path}")
        return
    print(f"\nworker profile ({path}; `python -m pstats {path}` to explore), top {top} by own time:")
    pstats.Stats(path).sort_stats("tottime").print_stats(top)


def print_report(results: list[dict]) -> None:
    for r in results:
        e, m, rd = r["engine"], r["mongo"], r["redis"]
        print(f"N={r['n']:,}  {e['status']}  {e['objects_per_s']:,} obj/s ({e['seconds']} s)  "
              f"trigger {r['trigger_ms']} ms  first tier launched {r['first_tier_launched_ms']} ms")
        cpu = r["cpu_ms_per_object"]
        print(f"    CPU ms per object: worker {cpu['worker']} + mongod {cpu['mongod']} + redis {cpu['redis']}; "
              f"other processes {r['cpu_seconds'].get('other', 0):.1f} CPU s during the run"
              + ("  (WARNING: the machine was not quiet)" if r['cpu_seconds'].get('other', 0) > 0.2 * e['seconds'] else ""))
        print("    peak RSS MB: " + ", ".join(f"{k} {v}" for k, v in r["peak_rss_mb"].items()))
        print(f"    Redis: peak {rd['peak_used_memory_mb']} MB / {rd['peak_keys']:,} keys "
              f"(broker queue peak {rd['peak_broker_queue_len']:,} messages); after expiry "
              f"{rd['after_expiry']['used_memory_mb']} MB / {rd['after_expiry']['keys']:,} keys "
              f"(before the run {rd['before']['used_memory_mb']} MB / {rd['before']['keys']:,})")
        for name, s in m.items():
            print(f"    MongoDB {name}: {s['count']:,} docs, data {s['data_bytes_per_doc']} B/doc, "
                  f"{s['indexes']} indexes {s['index_bytes_per_doc']} B/doc")
        for p in e["problems"]:
            print(f"    PROBLEM: {p}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks --scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--poll", type=float, default=1.0)
    ap.add_argument("--sample-interval", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--result-expires-s", type=int, default=60)
    ap.add_argument("--worker-loglevel", default="WARNING")
    ap.add_argument("--mongod-cache-gb", type=float, default=2.0,
                    help="our own mongod's WiredTiger cache (default 2 GB; 0 = the private default)")
    ap.add_argument("--mongod-pid", type=int, action="append", default=[])
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--profile", metavar="PATH",
                    help="run ONE solo worker under cProfile and write its stats to PATH.N (slower)")
    args = ap.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache_gb = None if os.environ.get("MONGO_URL") else args.mongod_cache_gb
    with bench_services(cache_gb, args.mongod_pid) as (services, celery):
        results = [run_size(services, celery, args, n) for n in args.size_list]
    print_report(results)
    text = json.dumps({"config": vars(args), "results": results}, indent=2, default=str)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
        print(f"figures written to {args.json}")
    return 1 if any(r["engine"]["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
