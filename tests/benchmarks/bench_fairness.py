"""`./dev bench --fairness`: a small batch's latency alone and beside a large batch of
another tenant, under the FIFO scheduler (`SLUICE_SCHEDULER=fifo`, the behaviour before
fair scheduling) and the fair one, and the large batch's throughput in both.

Each mode gets a fresh database and a fresh worker (2 prefork processes); the small batch
is triggered once the large one has processed `--head-start` objects."""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from typing import Any

from tests.support.fairness import batch, tenant, timed, trigger, wait
from tests.support.processes import WorkerProcess

ADMIN_KEY = "sk_bench_admin_" + secrets.token_hex(8)


def run_mode(services: Any, mode: str, args: argparse.Namespace) -> dict:
    from api.app import create_app
    from shared.settings import Settings
    from tests.support.api import Api
    from tests.support.env import SECURITY_ENV

    env = {**services.env(), "SLUICE_DB": f"sluice_bench_fair_{secrets.token_hex(4)}", "SLUICE_ADMIN_KEY": ADMIN_KEY,
           "SLUICE_CHUNK_SIZE": str(args.chunk), "SLUICE_SCHEDULER": mode, **SECURITY_ENV}
    settings = Settings.from_env(env)
    app = create_app(settings)
    stores = app.extensions["sluice.stores"]
    admin = Api(app.test_client(), ADMIN_KEY)
    worker = WorkerProcess({**os.environ, **env, "PYTHONUNBUFFERED": "1"}, concurrency=2)
    try:
        big = tenant(admin, stores, "large", args.large)
        small = tenant(admin, stores, "small", args.small)
        worker.start(app.extensions["sluice.tasks"])
        alone = statistics.median(timed(small, 120)[1] for _ in range(3))
        t0 = time.monotonic()
        large_id = trigger(big)
        wait(big, large_id, 300, until=lambda b: b["counters"]["processed"] >= args.head_start)
        _, beside = timed(small, 600)
        large_running = batch(big, large_id)["status"] == "PROCESSING"
        wait(big, large_id, 900)
        large_s = time.monotonic() - t0
        return {"mode": mode, "small_alone_s": round(alone, 2), "small_beside_large_s": round(beside, 2),
                "small_done_while_large_ran": large_running, "large_s": round(large_s, 1),
                "large_objects_per_s": round(args.large / large_s)}
    finally:
        worker.stop()
        stores.mongo.client.drop_database(settings.mongo_db)
        stores.mongo.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="./dev bench --fairness")
    p.add_argument("--fairness", action="store_true")
    p.add_argument("--large", type=int, default=50_000, help="objects in the large batch")
    p.add_argument("--small", type=int, default=500, help="objects in the small batch")
    p.add_argument("--chunk", type=int, default=250, help="SLUICE_CHUNK_SIZE")
    p.add_argument("--head-start", type=int, default=2_000, help="large-batch objects done before the small one")
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds of (fifo, fair), interleaved; medians are printed last")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from cli.localservices import ensure_services

    args = parse_args(sys.argv[1:] if argv is None else argv)
    services = ensure_services()
    try:
        results = [run_mode(services, mode, args) for _ in range(args.repeat) for mode in ("fifo", "fair")]
    finally:
        services.stop()
    print(f"\nfairness: {args.small}-object batch beside a {args.large}-object batch of another namespace, "
          f"chunk {args.chunk}, 1 worker x 2 processes (shared, noisy machine: figures vary run to run)")
    print(f"{'scheduler':<10}{'small alone':>13}{'small beside':>14}{'beside/alone':>14}{'large':>10}{'large obj/s':>13}")
    for r in results:
        print(f"{r['mode']:<10}{r['small_alone_s']:>12.2f}s{r['small_beside_large_s']:>13.2f}s"
              f"{r['small_beside_large_s'] / r['small_alone_s']:>13.1f}x{r['large_s']:>9.1f}s{r['large_objects_per_s']:>13}")
    med = {mode: {k: statistics.median(r[k] for r in results if r["mode"] == mode)
                  for k in ("small_alone_s", "small_beside_large_s", "large_objects_per_s")}
           for mode in ("fifo", "fair")}
    med_ratio = {mode: statistics.median(r["small_beside_large_s"] / r["small_alone_s"]
                                         for r in results if r["mode"] == mode) for mode in med}
    if args.repeat > 1:
        for mode, m in med.items():
            print(f"median of {args.repeat} {mode:<5} small alone {m['small_alone_s']:.2f}s, beside "
                  f"{m['small_beside_large_s']:.2f}s ({med_ratio[mode]:.1f}x); large {m['large_objects_per_s']:.0f} obj/s")
    fifo, fair = med["fifo"], med["fair"]
    print(f"fair vs fifo large-batch throughput (medians): "
          f"{100 * (fair['large_objects_per_s'] / fifo['large_objects_per_s'] - 1):+.1f} %")
    return 0
