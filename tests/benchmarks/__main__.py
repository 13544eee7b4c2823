"""`python -m tests.benchmarks` (what `./dev bench` runs): the batch-engine benchmark."""
from tests.benchmarks.bench_engine import main

if __name__ == "__main__":
    raise SystemExit(main())
