"""`python -m tests.benchmarks` (what `./dev bench` runs): the batch-engine benchmark;
`--api` runs the API benchmark instead (tests/benchmarks/bench_api.py), `--extractors` the
extractor micro-benchmark (tests/benchmarks/bench_extractors.py)."""
import sys

if __name__ == "__main__":
    if "--extractors" in sys.argv[1:]:
        from tests.benchmarks.bench_extractors import main as extractors_main

        raise SystemExit(extractors_main([a for a in sys.argv[1:] if a != "--extractors"]))
    if "--api" in sys.argv[1:]:
        from tests.benchmarks.bench_api import main as api_main

        raise SystemExit(api_main([a for a in sys.argv[1:] if a != "--api"]))
    from tests.benchmarks.bench_engine import main

    raise SystemExit(main())
