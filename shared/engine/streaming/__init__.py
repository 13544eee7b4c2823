"""Streaming pipelines: change data capture from a bucket or an external MongoDB into a
collection, a MongoDB or a webhook, run as short continuation tasks on the `streaming` queue.

    config.py      task name of the watchdog, agents (queues), StreamingSettings (lease, stall)
    decisions.py   pure decisions: what a step does, lease/watchdog rules, collapsing a batch, lag
    definition.py  validating (every problem with its path) and rendering definitions
    apply.py       a batch of source rows/changes → filter → JavaScript → target upserts/deletes
    step.py        one step of a pipeline's chain: claim the lease, start/snapshot/stream/stop
    control.py     START/STOP commands and the watchdog scan
"""
