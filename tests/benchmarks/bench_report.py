"""The batch-engine benchmark's report: medians over repeats, the verdict against the
targets, and the printed figures (bench_engine.py runs the benchmark)."""
from __future__ import annotations

import argparse
import os

FLAT_TOLERANCE = 0.20


def medians(results: list[dict]) -> list[dict]:
    """Per N (in the order run): the median engine and floor rates and ratio over repeats,
    and the highest engine-phase peak RSS."""
    from statistics import median

    out = []
    for n in dict.fromkeys(r["n"] for r in results):
        runs = [r for r in results if r["n"] == n]
        out.append({"n": n, "runs": len(runs),
                    "engine_objects_per_s": round(median(r["engine"]["objects_per_s"] for r in runs)),
                    "floor_objects_per_s": round(median(r["floor"]["objects_per_s"] for r in runs)),
                    "ratio": round(median(r["ratio"] for r in runs), 3),
                    "ceiling_objects_per_s": round(median(r["ceiling"]["objects_per_s"] for r in runs))
                    if all(r.get("ceiling") for r in runs) else None,
                    "ceiling_ratio": round(median(r["ceiling_ratio"] for r in runs), 3)
                    if all(r.get("ceiling_ratio") for r in runs) else None,
                    "ceiling_cpu_ratio": round(median(r["ceiling_cpu_ratio"] for r in runs), 3)
                    if all(r.get("ceiling_cpu_ratio") for r in runs) else None,
                    "peak_rss_mb": max(r["memory_mb"]["engine"]["rss_mb"] for r in runs)})
    return out


def verdict(results: list[dict], floor_ratio: float, min_rate: float) -> dict:
    per_n = medians(results)
    rss = [m["peak_rss_mb"] for m in per_n]
    growth = (rss[-1] - rss[0]) / rss[0] if len(rss) > 1 and rss[0] else 0.0
    return {"per_n": per_n, "ratio_ok": all(m["ratio"] >= floor_ratio for m in per_n),
            "rate_ok": all(m["engine_objects_per_s"] >= min_rate for m in per_n),
            "memory_growth": round(growth, 3), "memory_flat": growth <= FLAT_TOLERANCE,
            "problems": [p for r in results for p in r["engine"]["problems"] + r["floor"]["problems"]
                         + (r["ceiling"]["problems"] if r.get("ceiling") else [])]
            + [f"N={r['n']}: {r['engine']['result_keys']['without_ttl']} result-backend keys without a TTL"
               for r in results if (r["engine"].get("result_keys") or {}).get("without_ttl")]}


def print_report(results: list[dict], args: argparse.Namespace, summary: dict) -> None:
    cache = args.mongod_cache_gb or (None if os.environ.get("MONGO_URL") else 0.25)
    print(f"\nSluice batch engine, 3 tiers, chunk {args.chunk_size}, "
          f"{args.concurrency} x {args.pool} on {os.cpu_count()} CPUs, mongod cache "
          f"{f'{cache:g} GB' if cache else 'external'}")
    for r in results:
        e, f, m = r["engine"], r["floor"], r["memory_mb"]["engine"]
        print(f"N={r['n']:<8,} engine: {e['objects_per_s']:>6,} obj/s ({e['seconds']:.2f} s)  "
              f"floor: {f['objects_per_s']:>6,} obj/s ({f['seconds']:.2f} s)  ratio {r['ratio']:.2f}  "
              f"peak worker RSS {m['rss_mb']:.0f} MB (PSS {m['pss_mb']:.0f} MB, idle RSS "
              f"{r['memory_mb']['idle']['rss_mb']:.0f} MB)")
        p = e["phases"]
        tiers = "  ".join(f"t{t['tier']}: launch {t['launch_ms']} + wall {t['wall_ms']} "
                          f"(busy {t['chunk_busy_ms']}, {t['chunks']}x{t['chunk_avg_ms']}, close {t['close_ms']})"
                          for t in p["tiers"])
        print(f"    engine ms: start {p['start_ms']}  {tiers}  finish {p['finish_ms']}")
        stages = "  ".join(f"s{s['stage']}: scan {s['scan_ms']} wall {s['wall_ms']} (busy {s['chunk_busy_ms']}, "
                           f"dispatch {s['dispatch_ms']}, collect {s['collect_ms']})"
                           for s in f["stages"])
        print(f"    floor  ms: {stages}")
        cpu = lambda d: ", ".join(f"{k} {v:.1f}" for k, v in d.items())  # noqa: E731
        print(f"    CPU s: engine [{cpu(e['cpu_seconds'])}]  floor [{cpu(f['cpu_seconds'])}]")
        rk = e.get("result_keys") or {}
        print(f"    Redis result backend after both runs: {rk.get('keys', 0):,} keys, "
              f"{rk.get('without_ttl', 0)} without a TTL (longest TTL {rk.get('max_ttl_s', 0)} s)")
        print(f"    CPU ms per object (workers+mongod+redis): engine {e['cpu_ms_per_object']:.3f}  "
              f"floor {f['cpu_ms_per_object']:.3f}  cost ratio floor/engine "
              f"{f['cpu_ms_per_object'] / e['cpu_ms_per_object']:.2f}")
        runs = [("engine", e), ("floor", f)]
        c = r.get("ceiling")
        if c:
            runs.append(("ceiling", c))
            print(f"    ceiling (no queue, {args.concurrency} plain processes): {c['objects_per_s']:,} obj/s "
                  f"({c['seconds']:.2f} s); engine/ceiling throughput {r['ceiling_ratio']:.2f}, "
                  f"CPU per object engine/ceiling {r['ceiling_cpu_ratio']:.2f}")
        split = lambda d: " + ".join(f"{k} {v:.3f}" for k, v in d["cpu_ms_per_object_by_process"].items())  # noqa: E731
        print("    CPU ms per object by process: " + "  ".join(f"{what} [{split(d)}]" for what, d in runs))
        for what, d in runs:
            if d["cpu_seconds"]["other"] > 0.1 * d["seconds"] * (os.cpu_count() or 1):
                print(f"    WARNING: other processes used {d['cpu_seconds']['other']:.1f} CPU s during the "
                      f"{what} run ({d['seconds']:.1f} s): the machine was not quiet; figures are unreliable")
    if len(summary["per_n"]) < len(results):
        for m in summary["per_n"]:
            print(f"N={m['n']:<8,} median of {m['runs']}: engine {m['engine_objects_per_s']:,} obj/s  "
                  f"floor {m['floor_objects_per_s']:,} obj/s  ratio {m['ratio']:.2f}  "
                  f"ceiling {m['ceiling_objects_per_s'] or '-'} obj/s (engine/ceiling {m['ceiling_ratio']}, "
                  f"CPU {m['ceiling_cpu_ratio']})  "
                  f"peak worker RSS {m['peak_rss_mb']:.0f} MB")
    ok = lambda b: "yes" if b else "NO"  # noqa: E731
    print(f"targets: ratio >= {args.target_ratio}: {ok(summary['ratio_ok'])};  "
          f">= {args.target_rate:,.0f} obj/s: {ok(summary['rate_ok'])};  memory flat "
          f"(peak RSS growth {summary['memory_growth']:+.0%}, tolerance {FLAT_TOLERANCE:.0%}): "
          f"{ok(summary['memory_flat'])}")
    for p in summary["problems"]:
        print(f"PROBLEM: {p}")


