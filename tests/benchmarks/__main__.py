"""`python -m tests.benchmarks` (what `./dev bench` runs): the batch-engine benchmark;
`--fairness` the fair-scheduling one (bench_fairness.py), `--api` the API under load
(bench_api.py), `--extractors` the extractor micro-benchmark (bench_extractors.py), `--scale`
one large batch watching what must not grow with N (bench_scale.py)."""
import sys

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--fairness" in args:
        from tests.benchmarks.bench_fairness import main
    elif "--extractors" in args:
        from tests.benchmarks.bench_extractors import main as extractors_main

        raise SystemExit(extractors_main([a for a in args if a != "--extractors"]))
    elif "--scale" in args:
        from tests.benchmarks.bench_scale import main as scale_main

        raise SystemExit(scale_main([a for a in args if a != "--scale"]))
    elif "--api" in args:
        from tests.benchmarks.bench_api import main as api_main

        raise SystemExit(api_main([a for a in args if a != "--api"]))
    else:
        from tests.benchmarks.bench_engine import main
    raise SystemExit(main())
