"""Streaming-pipeline benchmark: sustained changes/s applied and end-to-end lag at that rate.

    python -m tests.benchmarks.bench_streaming                      # rates 500,1000,2000 + max, 10 s each
    python -m tests.benchmarks.bench_streaming --rates 1000 --seconds 20 --batch 500 --wait-ms 100
    python -m tests.benchmarks.bench_streaming --max-changes 50000 --json /tmp/stream.json

Set-up: private MongoDB (single-node replica set) and Redis (ensure_services: MONGO_URL/REDIS_URL
are honoured), a fresh Sluice database, the API as a Flask test client, one Celery worker process
(`-Q streaming,control -c 2`), and one streaming pipeline from an external-MongoDB collection to
an external-MongoDB collection (no filter, no JavaScript), started without a snapshot.

Per offered rate R (changes/s): a producer inserts documents `{seq, t}` (t = insert time) in
small batches paced to R for --seconds; a poller reads newly arrived target documents every
50 ms and records, per document, lag = (time first seen in the target) - t. Figures:
  applied/s   target documents that arrived during the producing window / its length;
  drain s     after the producer stopped, time until the target held every document;
  lag p50/p95/max  end-to-end (source insert -> visible in the target; +<=50 ms polling);
  steps       step tasks the pipeline ran (status history aside, from its step counter).
"max": --max-changes documents inserted as fast as possible (bulk), then the time until the
target has them all: the sustained ceiling of one pipeline (its steps are serial).
Every run checks the target holds exactly the source's documents (exit status 1 otherwise).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
from typing import Any

ADMIN_KEY = "sk_bench_admin_" + secrets.token_hex(8)


def log(msg: str) -> None:
    print(f"[bench-streaming {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="500,1000,2000", help="offered changes/s, comma separated")
    p.add_argument("--seconds", type=float, default=10.0, help="producing window per rate")
    p.add_argument("--max-changes", type=int, default=30000, help="documents of the 'max' run (0: skip)")
    p.add_argument("--batch", type=int, default=500, help="maxBatchSize of the pipeline")
    p.add_argument("--wait-ms", type=int, default=200, help="maxBatchWaitMs of the pipeline")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    return p.parse_args(argv)


class Producer(threading.Thread):
    """Inserts {seq, t} documents paced to `rate`/s (batches every 10 ms) for `seconds`."""

    def __init__(self, coll: Any, rate: float, seconds: float, start_seq: int):
        super().__init__(daemon=True)
        self.coll, self.rate, self.seconds, self.seq = coll, rate, seconds, start_seq
        self.first, self.inserted, self.elapsed = start_seq, 0, 0.0

    def run(self) -> None:
        started = time.monotonic()
        while (now := time.monotonic()) - started < self.seconds:
            due = int((now - started) * self.rate) - self.inserted
            if due > 0:
                docs = [{"_id": self.seq + i, "seq": self.seq + i, "t": time.time()} for i in range(due)]
                self.coll.insert_many(docs, ordered=False)
                self.seq += due
                self.inserted += due
            time.sleep(0.01)
        self.elapsed = time.monotonic() - started


class Poller(threading.Thread):
    """Every 50 ms: target documents with seq above the last seen; records first-seen lag."""

    def __init__(self, coll: Any, after_seq: int):
        super().__init__(daemon=True)
        self.coll, self.after = coll, after_seq
        self.lags: list[float] = []
        self.arrivals: list[float] = []   # monotonic time of each arrival
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            seen = time.time()
            mono = time.monotonic()
            rows = list(self.coll.find({"seq": {"$gt": self.after}}, {"seq": 1, "t": 1}).sort("seq", 1))
            for row in rows:
                self.lags.append(seen - row["t"])
                self.arrivals.append(mono)
            if rows:
                self.after = rows[-1]["seq"]
            self.stop.wait(0.05)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def wait_for(predicate, timeout: float, interval: float = 0.05) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError("condition not reached")


def run_rate(src: Any, dst: Any, status, rate: float, seconds: float, seq: int) -> dict:
    poller = Poller(dst, seq - 1)
    producer = Producer(src, rate, seconds, seq)
    steps_before = status()["step_seq"]
    poller.start()
    window_start = time.monotonic()
    producer.start()
    producer.join()
    window_end = time.monotonic()
    last = producer.seq - 1
    drain = wait_for(lambda: dst.count_documents({"seq": {"$gte": seq, "$lte": last}}) == producer.inserted, 120)
    time.sleep(0.1)
    poller.stop.set()
    poller.join()
    in_window = sum(1 for a in poller.arrivals if window_start <= a <= window_end)
    return {"offered_per_s": rate, "inserted": producer.inserted,
            "insert_per_s": round(producer.inserted / producer.elapsed, 1),
            "applied_per_s": round(in_window / (window_end - window_start), 1), "drain_s": round(drain, 2),
            "lag_p50_s": round(pct(poller.lags, 0.5), 3), "lag_p95_s": round(pct(poller.lags, 0.95), 3),
            "lag_max_s": round(max(poller.lags), 3) if poller.lags else None,
            "steps": status()["step_seq"] - steps_before, "next_seq": producer.seq}


def run_max(src: Any, dst: Any, status, n: int, seq: int) -> dict:
    steps_before = status()["step_seq"]
    started = time.monotonic()
    for lo in range(seq, seq + n, 1000):
        src.insert_many([{"_id": i, "seq": i, "t": time.time()} for i in range(lo, min(seq + n, lo + 1000))],
                        ordered=False)
    inserted_s = time.monotonic() - started
    total = wait_for(lambda: dst.count_documents({"seq": {"$gte": seq}}) >= n, 600, 0.1)
    return {"changes": n, "insert_s": round(inserted_s, 2), "caught_up_s": round(total, 2),
            "applied_per_s": round(n / total, 1), "steps": status()["step_seq"] - steps_before,
            "next_seq": seq + n}


def main(argv: list[str] | None = None) -> int:
    import pymongo

    from api.app import create_app
    from cli.localservices import ensure_services
    from shared.settings import Settings
    from tests.support.api import Api
    from tests.support.processes import WorkerProcess

    args = parse_args(argv)
    services = ensure_services(dict(os.environ))
    db_name, src_db, dst_db = (f"bench_{secrets.token_hex(3)}", f"bench_src_{secrets.token_hex(3)}",
                               f"bench_dst_{secrets.token_hex(3)}")
    env = {**os.environ, **services.env(), "SLUICE_DB": db_name, "SLUICE_ADMIN_KEY": ADMIN_KEY,
           "PYTHONUNBUFFERED": "1"}
    settings = Settings.from_env(env)
    app = create_app(settings)
    client = pymongo.MongoClient(services.mongo_url, tz_aware=False)
    worker = WorkerProcess(env, queues="streaming,control", concurrency=2)
    results: dict[str, Any] = {"config": {"batch": args.batch, "wait_ms": args.wait_ms, "seconds": args.seconds,
                                          "cpus": os.cpu_count()}, "rates": [], "max": None}
    problems: list[str] = []
    try:
        api = Api(app.test_client(), ADMIN_KEY)
        assert api.post("/v1/namespaces", json={"namespace_name": "bench"})[0] == 201
        api = api.as_(namespace="bench")
        ids = {}
        for name, db in (("src", src_db), ("dst", dst_db)):
            status, body, _ = api.post("/v1/connections", json={"name": name, "type": "mongodb", "config": {
                "uri": services.mongo_url, "database": db, "collection": "events"}})
            assert status == 201, body
            ids[name] = body["connection_id"]
        status, p, _ = api.post("/v1/projects/bench/streaming-pipelines", json={
            "name": "bench", "streamingSource": {"connection": {"connectionId": ids["src"]}, "snapshot": False},
            "streamingTarget": {"connection": {"connectionId": ids["dst"]}},
            "advancedProperties": {"maxBatchSize": args.batch, "maxBatchWaitMs": args.wait_ms}})
        assert status == 201, p
        url = f"/v1/projects/bench/streaming-pipelines/{p['streamingPipelineId']}"
        src, dst = client[src_db]["events"], client[dst_db]["events"]
        client[src_db].create_collection("events")
        worker.start(app.extensions["sluice.tasks"])
        assert api.post(f"{url}/commands", json={"command": "START"})[0] == 200
        wait_for(lambda: api.get(f"{url}/status")[1]["status"] == "STREAMING", 60)
        store = app.extensions["sluice.stores"].streaming
        status_doc = lambda: store.by_id(p["streamingPipelineId"])  # noqa: E731
        seq = 1
        for rate in [float(r) for r in args.rates.split(",") if r.strip()]:
            log(f"offered {rate:.0f} changes/s for {args.seconds:.0f} s")
            row = run_rate(src, dst, status_doc, rate, args.seconds, seq)
            seq = row.pop("next_seq")
            row["status_lag_s"] = api.get(f"{url}/status")[1]["lagSeconds"]
            log(json.dumps(row))
            results["rates"].append(row)
        if args.max_changes:
            log(f"max: {args.max_changes} changes inserted at once")
            results["max"] = run_max(src, dst, status_doc, args.max_changes, seq)
            seq = results["max"].pop("next_seq")
            log(json.dumps(results["max"]))
        st = api.get(f"{url}/status")[1]
        results["status"] = {"counters": st["counters"], "recoveries": st["recoveries"], "error": st["error"]}
        expected = {str(d["_id"]): d for d in src.find()}
        actual = {d["_id"]: d for d in dst.find()}
        if set(expected) != set(actual) or st["counters"]["failed"]:
            problems.append(f"target differs from source: {len(expected)} vs {len(actual)}")
        api.post(f"{url}/commands", json={"command": "STOP"})
    finally:
        worker.stop()
        for name in (db_name, src_db, dst_db):
            client.drop_database(name)
        client.close()
        app.extensions["sluice.stores"].mongo.close()
        services.stop()
    print_report(results)
    results["problems"] = problems
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def print_report(results: dict) -> None:
    c = results["config"]
    print(f"\nstreaming benchmark: mongodb -> mongodb, maxBatchSize {c['batch']}, maxBatchWaitMs {c['wait_ms']}, "
          f"{c['cpus']} CPUs")
    print(f"{'offered/s':>10} {'inserted/s':>10} {'applied/s':>10} {'drain s':>8} {'lag p50':>8} {'lag p95':>8} "
          f"{'lag max':>8} {'steps':>6}")
    for r in results["rates"]:
        print(f"{r['offered_per_s']:>10.0f} {r['insert_per_s']:>10.1f} {r['applied_per_s']:>10.1f} "
              f"{r['drain_s']:>8.2f} {r['lag_p50_s']:>8.3f} {r['lag_p95_s']:>8.3f} {r['lag_max_s']:>8.3f} "
              f"{r['steps']:>6}")
    if results.get("max"):
        m = results["max"]
        print(f"max: {m['changes']} changes inserted in {m['insert_s']} s, applied in {m['caught_up_s']} s "
              f"-> {m['applied_per_s']:.0f} changes/s sustained ({m['steps']} steps)")
    if results.get("status"):
        print(f"pipeline counters: {results['status']['counters']}")


if __name__ == "__main__":
    raise SystemExit(main())
