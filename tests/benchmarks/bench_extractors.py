"""Extractor micro-benchmark: µs per record of each tier's extractor of the engine benchmark
(tests/benchmarks/bench_dag.py), on its own records, and of a BSON round trip.

    ./dev bench --extractors [--records 5000] [--repeat 7]

js_transform is measured both ways, alternating within one process: one sandbox call per
record (`call`, as before) and many records per call (`call_many`, what the engine does now,
through the extractor's apply_many). Medians of --repeat rounds; each round runs every
variant once, in turn, so a busy machine slows all of them alike.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from statistics import median
from typing import Any, Callable

from tests.benchmarks import bench_dag


def tier_inputs(n: int) -> list[list[dict]]:
    """The records each tier sees: objects' data, then each tier's outputs in turn."""
    from shared.settings import Settings

    settings = Settings.from_env({})
    rows = [{"_id": i, "data": bench_dag.make_object(i)["data"]} for i in range(n)]
    out = []
    for stage in range(3):
        out.append([r["data"] for r in rows])
        rows = [{"_id": i, "data": d} for i, d in bench_dag.floor_outputs(stage, rows, settings)]
    return out


def prepared(stage: int, records: list[dict]) -> tuple[Any, dict, Any, list[dict]]:
    """The stage's extractor, its parameters, settings, and each record's inputs."""
    from shared.extractors import get_extractor
    from shared.settings import Settings

    fe = bench_dag.TIERS[stage]["feature_extractor"]
    ext = get_extractor(fe["feature_extractor_name"])
    mapping = fe.get("input_mapping") or {}
    inputs = [{k: r[v] for k, v in mapping.items()} if mapping else r for r in records]
    return ext, ext.normalise(fe.get("parameters") or {}), Settings.from_env({}), inputs


def per_record(stage: int, records: list[dict]) -> Callable[[], None]:
    ext, params, settings, inputs = prepared(stage, records)

    def go() -> None:
        with ext.open(params, settings) as run:
            for one in inputs:
                run.apply(one)
    return go


def batched(stage: int, records: list[dict]) -> Callable[[], None]:
    ext, params, settings, inputs = prepared(stage, records)

    def go() -> None:
        with ext.open(params, settings) as run:
            for lo in range(0, len(inputs), 500):          # one extractor run per chunk of 500
                run.apply_many(inputs[lo:lo + 500])
    return go


def bson_round_trip(records: list[dict]) -> Callable[[], None]:
    import bson

    docs = [{"_id": f"doc_{i:012d}", "namespace_id": "ns_x", "collection_id": "col_x", "data": r,
             "lineage_path": ["bucket:b", f"object:{i}", "collection:c"]} for i, r in enumerate(records)]

    def go() -> None:
        for d in docs:
            bson.decode(bson.encode(d))
    return go


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks --extractors", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    tiers = tier_inputs(args.records)
    variants = {
        "field_mapper": per_record(0, tiers[0]),
        "js_transform (one call per record)": per_record(1, tiers[1]),
        "js_transform (call_many, as the engine runs it)": batched(1, tiers[1]),
        "text_stats": per_record(2, tiers[2]),
        "bson round trip (a tier-1 document)": bson_round_trip(tiers[1]),
    }
    for go in variants.values():       # warm-up: pools, imports, caches
        go()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeat):
        for name, go in variants.items():
            t0 = time.process_time()
            go()
            times[name].append((time.process_time() - t0) * 1e6 / args.records)
    print(f"\nExtractors of the engine benchmark, µs of CPU per record (median of {args.repeat} "
          f"interleaved rounds of {args.records:,} records; min-max in brackets)")
    for name, ts in times.items():
        print(f"  {name:<50} {median(ts):8.1f}  [{min(ts):.1f}-{max(ts):.1f}]")
    old, new = median(times["js_transform (one call per record)"]), \
        median(times["js_transform (call_many, as the engine runs it)"])
    print(f"  js_transform call_many / per-record call: {new / old:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({k: {"median_us": round(median(v), 2), "runs": [round(x, 2) for x in v]}
                       for k, v in times.items()}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
