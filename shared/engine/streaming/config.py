"""Names and limits of streaming pipelines. Its tunables are `Settings.streaming`
(shared/settings.py)."""
from __future__ import annotations

from shared.tasknames import QUEUE_STREAMING

STREAM_WATCHDOG = "sluice.streaming.watchdog"   # routed to the control queue (shared/tasknames.py)
AGENTS: tuple[str, ...] = (QUEUE_STREAMING,)     # queues whose workers may run streaming steps
DEFAULT_AGENT = QUEUE_STREAMING
DEFAULT_MAX_BATCH_SIZE, MAX_BATCH_SIZE_RANGE = 500, (1, 10000)
DEFAULT_MAX_BATCH_WAIT_MS, MAX_BATCH_WAIT_RANGE = 1000, (10, 60000)
