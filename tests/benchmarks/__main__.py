"""`python -m tests.benchmarks` (what `./dev bench` runs): the batch-engine benchmark, or
with `--fairness` the fair-scheduling one."""
import sys

if __name__ == "__main__":
    if "--fairness" in sys.argv[1:]:
        from tests.benchmarks.bench_fairness import main
    else:
        from tests.benchmarks.bench_engine import main
    raise SystemExit(main())
