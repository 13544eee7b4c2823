"""The use-cases, as plain functions over stores (no Celery, no Flask):

    batch/      a trigger → tiers → one chord per tier → chunks → documents
    runs/       pipeline runs: source → JavaScript → destination, schedules, dead letters, backfills
    streaming/  streaming pipelines: change streams in short leased steps
    chunking.py what every chunked job shares (time budget, split and hand-on, heartbeats, metrics)
    the rest    shared by the workflows: events (the webhook outbox), fairness, admission and
                limits, pausing, liveness and recovery, fail-fast streaks, the JS look-ahead
"""
