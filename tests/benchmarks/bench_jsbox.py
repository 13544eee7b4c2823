"""Micro-benchmark of the QuickJS sandbox (not a pytest test).

    PYTHONPATH=. python tests/benchmarks/bench_jsbox.py [--records 20000] [--chunk 200]

Prints records/s for a small transform, run the way the batch engine runs it: one Sandbox per
chunk, one call per record; plus the cost of creating a sandbox with and without the
per-thread pool, and a bare quickjs.Context for comparison.
"""
from __future__ import annotations

import argparse
import json
import time

import _quickjs as quickjs  # the C module (no Function thread pool)

from shared.jsbox import JsLimits, Sandbox, clear_pool

TRANSFORM = """
function transform(doc) {
  var words = (doc.text || "").split(/\\s+/).filter(Boolean);
  return { id: doc.id, title: doc.title.toUpperCase(), words: words.length, tags: doc.tags.slice(0, 2) };
}
"""

NOOP = "function transform(doc) { return doc; }"


def make_records(n: int) -> list[dict]:
    return [{"id": i, "title": f"record {i}", "text": "the quick brown fox jumps over the lazy dog",
             "tags": ["a", "b", "c"], "score": i * 0.5} for i in range(n)]


def run_chunks(code: str, records: list[dict], chunk: int, pooled: bool) -> float:
    limits = JsLimits(time_ms=1000, memory_mb=64, stack_kb=512)
    started = time.perf_counter()
    for i in range(0, len(records), chunk):
        with Sandbox(code, limits=limits, pooled=pooled) as box:
            for rec in records[i:i + chunk]:
                box.call(rec)
    return len(records) / (time.perf_counter() - started)


def time_per(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1000


def run_unisolated(code: str, records: list[dict]) -> float:
    """Reference point: same JSON in/out, but no hardening and no per-record fresh top level."""
    ctx = quickjs.Context()
    ctx.eval(code)
    call = ctx.eval("(function (s) { return JSON.stringify(transform(JSON.parse(s))); })")
    started = time.perf_counter()
    for rec in records:
        json.loads(call(json.dumps(rec)))
    return len(records) / (time.perf_counter() - started)


def bench_python_json(records: list[dict]) -> float:
    started = time.perf_counter()
    for rec in records:
        json.loads(json.dumps(rec))
    return len(records) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--chunk", type=int, default=200)
    args = ap.parse_args()
    records = make_records(args.records)

    run_chunks(TRANSFORM, records[:500], args.chunk, True)   # warm-up
    for label, code in (("small transform", TRANSFORM), ("identity", NOOP)):
        pooled = run_chunks(code, records, args.chunk, True)
        clear_pool()
        fresh = run_chunks(code, records, args.chunk, False)
        bare = run_unisolated(code, records)
        print(f"{label:16s} chunk={args.chunk}: {pooled:9,.0f} records/s (pooled context), "
              f"{fresh:9,.0f} records/s (new context per chunk), "
              f"{bare:9,.0f} records/s (no isolation, reference)")

    with Sandbox(TRANSFORM) as box:
        rec = records[0]
        per_call = time_per(lambda: box.call(rec), 20000)
    print(f"one call (json in/out, fresh top level, frozen world): {per_call * 1000:.1f} us")
    print(f"python json round trip alone: {bench_python_json(records):,.0f} records/s")
    print(f"bare quickjs.Context():             {time_per(quickjs.Context, 200):.3f} ms")
    print(f"new hardened sandbox (no pool):     "
          f"{time_per(lambda: Sandbox(TRANSFORM, pooled=False).close(), 100):.3f} ms")
    Sandbox(TRANSFORM).close()
    print(f"sandbox from the per-thread pool:   "
          f"{time_per(lambda: Sandbox(TRANSFORM).close(), 2000):.3f} ms")


if __name__ == "__main__":
    main()
