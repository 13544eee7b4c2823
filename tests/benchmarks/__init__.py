"""Benchmarks (not part of the test suite: no module here is named test_*.py).

    ./dev bench                      # = python -m tests.benchmarks  (20,000 and 100,000 objects)
    ./dev bench --sizes 2000         # quick smoke check
    ./dev bench --help

`python -m tests.benchmarks` runs the batch-engine benchmark (bench_engine.py): a 3-tier DAG
through real Celery workers, compared in the same run, on the same workers, with a minimal
hand-written Celery task doing the same reads, transforms and writes (the "floor").
`bench_jsbox.py` is a separate micro-benchmark of the QuickJS sandbox.
"""
