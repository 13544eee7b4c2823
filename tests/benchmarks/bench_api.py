"""API benchmark: `sluice api` (gunicorn, its default workers) under 32 concurrent clients.

    ./dev bench --api                              # 30 s mixed load + 6 s per route (~1.5 min)
    ./dev bench --api --seconds 10 --solo-seconds 3 --clients 16 --json /tmp/api.json

Private MongoDB/Redis (ensure_services; MONGO_URL/REDIS_URL are honoured), a fresh database,
20,000 objects of the engine benchmark's bucket (tests/benchmarks/bench_dag.py) bulk-loaded,
and one finished batch over 5,000 of them (run through the plain engine functions, 50 chunk
rows per tier). Then the API is started exactly as `sluice api` starts it (cli/procs.py
api_cmd: gunicorn, 2 workers x 4 threads, 127.0.0.1 only) and loaded by CLIENTS keep-alive
HTTP clients (4 processes of threads, so the client is not one GIL):

  mixed   each client picks, per request: a status poll (GET /v1/batches/{id}, 50 %), a
          filtered object list (POST …/objects/list, category equals, 20 rows, 30 %), or an
          object batch write (POST …/objects/batch, 20 new objects, 20 %), for --seconds.
  solo    each route alone, --solo-seconds each: what one request of that route costs.

Figures: requests/s overall and per route, client-side p50/p99 latency per route, server
time per route (the app's own access-log duration_ms, p50/p99), CPU ms per request (API
processes, mongod, redis, from /proc) in the solo phases, and the count of 5xx and
transport errors. "other" CPU is the rest of the machine: when it is high the run shared
the CPUs and latencies are unreliable (a warning is printed).
Targets (issue 13): status poll server time <= 3 ms, status poll p99 <= 100 ms, object list
p99 <= 300 ms, >= 300 requests/s overall, no 5xx.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

from tests.benchmarks import bench_dag
from tests.benchmarks.bench_procs import REPO, CpuMeter, descendants

ROUTES = ("poll", "list", "write")
MIX = {"poll": 0.5, "list": 0.3, "write": 0.2}
TARGETS = {"poll_server_ms": 3.0, "poll_p99_ms": 100.0, "list_p99_ms": 300.0, "rps": 300.0}


def log(msg: str) -> None:
    print(f"[bench-api {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


# -- the clients (child processes; each runs threads with their own keep-alive connection) ------
def _request(conn: http.client.HTTPConnection, route: str, ctx: dict, rng: random.Random,
             counter: list[int]) -> int:
    headers = {"Authorization": f"Bearer {ctx['key']}", "X-Namespace": "bench",
               "Content-Type": "application/json"}
    if route == "poll":
        conn.request("GET", f"/v1/batches/{ctx['batch_id']}", headers=headers)
    elif route == "list":
        body = {"filters": {"field": "category", "operator": "eq", "value": rng.choice(bench_dag.CATEGORIES)},
                "limit": 20}
        conn.request("POST", f"/v1/buckets/{bench_dag.BUCKET}/objects/list", json.dumps(body), headers)
    else:
        base = ctx["write_base"] + counter[0] * 20
        counter[0] += 1
        body = {"objects": [bench_dag.make_object(i) for i in range(base, base + 20)]}
        conn.request("POST", f"/v1/buckets/{bench_dag.BUCKET}/objects/batch", json.dumps(body), headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def _client_thread(ctx: dict, routes: dict[str, float], deadline: float, seed: int, out: list) -> None:
    rng = random.Random(seed)
    names, weights = list(routes), list(routes.values())
    conn = http.client.HTTPConnection("127.0.0.1", ctx["port"], timeout=30)
    counter = [0]
    ctx = {**ctx, "write_base": ctx["write_base"] + seed * 1_000_000}
    while time.monotonic() < deadline:
        route = rng.choices(names, weights)[0]
        t0 = time.perf_counter()
        try:
            status = _request(conn, route, ctx, rng, counter)
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", ctx["port"], timeout=30)
        out.append((route, status, (time.perf_counter() - t0) * 1000))
    conn.close()


def _client_process(ctx: dict, routes: dict[str, float], seconds: float, threads: int, seed: int,
                    start_at: float, queue: Any) -> None:
    time.sleep(max(0.0, start_at - time.time()))      # every process starts together
    deadline = time.monotonic() + seconds
    out: list = []
    workers = [threading.Thread(target=_client_thread, args=(ctx, routes, deadline, seed * 100 + k, out))
               for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 60)
    queue.put(out)


def load(ctx: dict, routes: dict[str, float], seconds: float, clients: int, processes: int) -> tuple[list, float]:
    """Run `clients` clients for `seconds`; every (route, status, ms) and the wall time."""
    mp = multiprocessing.get_context("fork")
    queue = mp.Queue()
    per = [clients // processes + (1 if k < clients % processes else 0) for k in range(processes)]
    start_at = time.time() + 0.5
    procs = [mp.Process(target=_client_process, args=(ctx, routes, seconds, n, k + 1 + int(start_at) % 1000,
                                                      start_at, queue)) for k, n in enumerate(per) if n]
    for p in procs:
        p.start()
    t0 = time.monotonic()
    results = [r for _ in procs for r in queue.get(timeout=seconds + 120)]
    wall = time.monotonic() - t0 - 0.5
    for p in procs:
        p.join(30)
    return results, max(wall, seconds)


# -- the server --------------------------------------------------------------------------------
class ApiServer:
    """`sluice api`'s command (cli.procs.api_cmd) as a separate process group, log to a file."""

    def __init__(self, env: dict[str, str], workers: int, threads: int):
        from cli.localservices import free_port
        from cli.procs import api_cmd

        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="sluice-bench-api-", suffix=".log")[1])
        self.proc = subprocess.Popen(api_cmd(self.port, workers, threads), env=env, cwd=REPO,
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the API exited:\n{self.log.read_text()[-4000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer within {timeout}s")

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def server_ms(self, since: int) -> dict[str, list[float]]:
        """The app's access-log durations (server time) per route since byte `since`."""
        out: dict[str, list[float]] = {r: [] for r in ROUTES}
        with self.log.open() as fh:
            fh.seek(since)
            for line in fh:
                if '"sluice.api.access"' not in line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                path, method = rec.get("path", ""), rec.get("method")
                route = ("poll" if path.startswith("/v1/batches/") and method == "GET" else
                         "list" if path.endswith("/objects/list") else
                         "write" if path.endswith("/objects/batch") else None)
                if route:
                    out[route].append(float(rec.get("duration_ms", 0)))
        return out

    def stop(self) -> None:
        from tests.support.processes import stop_group

        stop_group(self.proc)
        self.log.unlink(missing_ok=True)


# -- set-up ------------------------------------------------------------------------------------
def prepare(services: Any, n_objects: int, batch_objects: int) -> tuple[dict, dict, Any]:
    """A fresh database with the bucket, its objects, an API key and a finished batch."""
    from api.app import create_app
    from shared.settings import Settings
    from shared.secrets.box import generate_key
    from tests.benchmarks.bench_engine import ADMIN_KEY, Api, load_objects
    from tests.support.batches import run_batch

    db = f"sluice_bench_api_{secrets.token_hex(4)}"
    # One tenant's 32 clients are the load: budgets far above it, so the figures are of work
    # served, not of 429s (the token buckets are still taken on every request).
    env = {**services.env(), "SLUICE_DB": db, "SLUICE_ADMIN_KEY": ADMIN_KEY, "SLUICE_CHUNK_SIZE": "100",
           "SLUICE_SECRET_KEY": generate_key(), "SLUICE_RATE_LIMIT_KEY_RPS": "1000000",
           "SLUICE_RATE_LIMIT_KEY_BURST": "1000000", "SLUICE_RATE_LIMIT_NAMESPACE_RPS": "1000000",
           "SLUICE_RATE_LIMIT_NAMESPACE_BURST": "1000000"}
    settings = Settings.from_env(env)
    app = create_app(settings)
    stores = app.extensions["sluice.stores"]
    admin = Api(app.test_client())
    ns = admin.ok("POST", "/v1/namespaces", {"namespace_name": "bench"})
    api = Api(app.test_client(), "bench")
    api.ok("POST", "/v1/buckets", bench_dag.bucket_body())
    api.ok("POST", "/v1/buckets", bench_dag.bucket_body("polled"))
    api.ok("POST", "/v1/collections", {"collection_name": "copy",
                                       "source": {"type": "bucket", "bucket_id": "polled"}})
    load_objects(stores, ns["namespace_id"], bench_dag.BUCKET, n_objects)
    load_objects(stores, ns["namespace_id"], "polled", batch_objects)
    batch_id = api.ok("POST", "/v1/collections/copy/trigger", {})["batch_id"]
    run_batch(stores, settings, batch_id)
    _, key = stores.api_keys.create("bench", "*")
    return {"key": key, "batch_id": batch_id, "write_base": 10_000_000}, env, stores


# -- report ------------------------------------------------------------------------------------
def summarise(results: list, wall: float, server: dict[str, list[float]]) -> dict:
    out: dict[str, Any] = {"seconds": round(wall, 1), "requests": len(results),
                           "requests_per_s": round(len(results) / wall, 1),
                           "http_5xx": sum(1 for _, s, _ in results if s >= 500),
                           "http_4xx": sum(1 for _, s, _ in results if 400 <= s < 500),
                           "transport_errors": sum(1 for _, s, _ in results if s == 0), "routes": {}}
    for route in ROUTES:
        ms = [m for r, s, m in results if r == route]
        if not ms:
            continue
        out["routes"][route] = {"requests": len(ms), "requests_per_s": round(len(ms) / wall, 1),
                                "p50_ms": pct(ms, 0.50), "p99_ms": pct(ms, 0.99),
                                "server_p50_ms": pct(server.get(route, []), 0.50),
                                "server_p99_ms": pct(server.get(route, []), 0.99)}
    return out


def run(args: argparse.Namespace) -> dict:
    from cli.localservices import ensure_services

    services = ensure_services(dict(os.environ))
    server = stores = None
    try:
        log(f"loading {args.objects:,} objects and a finished batch")
        ctx, env, stores = prepare(services, args.objects, args.batch_objects)
        server = ApiServer({**os.environ, **env}, args.workers, args.threads)
        server.wait_ready()
        ctx["port"] = server.port
        pids = {"api": lambda: descendants(server.proc.pid),
                "mongod": lambda: [p.pid for p in services.procs if "mongod" in str(p.args)],
                "redis": lambda: [p.pid for p in services.procs if "redis" in str(p.args)]}
        load(ctx, MIX, 3, args.clients, args.processes)                # warm-up, not counted
        phases: dict[str, Any] = {}
        for name, routes, seconds in [("mixed", MIX, args.seconds),
                                      *[(r, {r: 1.0}, args.solo_seconds) for r in ROUTES]]:
            log(f"{name}: {args.clients} clients for {seconds:g} s")
            meter, offset = CpuMeter(pids), server.log_offset()
            meter.start()
            results, wall = load(ctx, routes, seconds, args.clients, args.processes)
            cpu = meter.stop()
            phase = summarise(results, wall, server.server_ms(offset))
            phase["cpu_seconds"] = cpu
            phase["cpu_ms_per_request"] = {k: round(cpu[k] * 1000 / max(1, phase["requests"]), 3)
                                           for k in ("api", "mongod", "redis")}
            phases[name] = phase
        return {"config": {"clients": args.clients, "processes": args.processes, "api_workers": args.workers,
                           "api_threads": args.threads, "objects": args.objects, "cpus": os.cpu_count()},
                "phases": phases}
    finally:
        if server is not None:
            server.stop()
        if stores is not None:
            stores.mongo.client.drop_database(stores.mongo.db.name)
            stores.mongo.close()
        services.stop()


def print_report(doc: dict) -> None:
    c = doc["config"]
    print(f"\nSluice API under load: {c['clients']} clients ({c['processes']} processes) -> sluice api "
          f"(gunicorn {c['api_workers']} x {c['api_threads']} threads) on {c['cpus']} CPUs, loopback")
    for name, p in doc["phases"].items():
        cpu = p["cpu_ms_per_request"]
        print(f"{name:<6} {p['requests_per_s']:>7,.1f} req/s ({p['requests']:,} in {p['seconds']} s)  "
              f"5xx {p['http_5xx']}  4xx {p['http_4xx']}  transport errors {p['transport_errors']}  "
              f"CPU ms/request: api {cpu['api']:.2f}, mongod {cpu['mongod']:.2f}, redis {cpu['redis']:.2f}")
        for route, r in p["routes"].items():
            print(f"    {route:<6} {r['requests_per_s']:>7,.1f} req/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  "
                  f"server p50 {r['server_p50_ms']} ms  p99 {r['server_p99_ms']} ms")
        if p["cpu_seconds"]["other"] > 0.1 * p["seconds"] * (os.cpu_count() or 1):
            print(f"    WARNING: other processes used {p['cpu_seconds']['other']:.1f} CPU s during this phase "
                  f"({p['seconds']} s): the machine was not quiet; figures are unreliable")
    mixed, poll = doc["phases"]["mixed"], doc["phases"].get("poll", {})
    checks = [
        ("status poll server p50 <= 3 ms (solo)", (poll.get("routes", {}).get("poll") or {}).get("server_p50_ms"),
         TARGETS["poll_server_ms"]),
        ("status poll p99 <= 100 ms (mixed)", (mixed["routes"].get("poll") or {}).get("p99_ms"), TARGETS["poll_p99_ms"]),
        ("object list p99 <= 300 ms (mixed)", (mixed["routes"].get("list") or {}).get("p99_ms"), TARGETS["list_p99_ms"])]
    line = "; ".join(f"{label}: {v} {'yes' if v is not None and v <= t else 'NO'}" for label, v, t in checks)
    print(f"targets: {line}; >= 300 req/s: {mixed['requests_per_s']} "
          f"{'yes' if mixed['requests_per_s'] >= TARGETS['rps'] else 'NO'}; no 5xx: "
          f"{'yes' if not any(p['http_5xx'] for p in doc['phases'].values()) else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks --api", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--processes", type=int, default=4, help="client processes the clients are spread over")
    ap.add_argument("--seconds", type=float, default=30, help="mixed-load duration (default 30)")
    ap.add_argument("--solo-seconds", type=float, default=6, help="per-route duration (default 6)")
    ap.add_argument("--workers", type=int, default=2, help="API worker processes (default: sluice api's, 2)")
    ap.add_argument("--threads", type=int, default=4, help="threads per API worker (default: sluice api's, 4)")
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--batch-objects", type=int, default=5000)
    ap.add_argument("--json", metavar="PATH", help="write the figures here")
    args = ap.parse_args(argv)
    if not (0 < args.seconds <= 600 and 0 < args.solo_seconds <= 120 and 0 < args.clients <= 512):
        ap.error("--seconds (<= 600), --solo-seconds (<= 120) and --clients (<= 512) bound the run")
    doc = run(args)
    print_report(doc)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 1 if any(p["http_5xx"] for p in doc["phases"].values()) else 0
