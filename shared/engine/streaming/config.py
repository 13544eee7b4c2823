"""Names and tunables of streaming pipelines. Settings are built by a function from an
environment mapping, never at import."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from shared.tasknames import QUEUE_STREAMING

STREAM_WATCHDOG = "sluice.streaming.watchdog"   # routed to the control queue (shared/tasknames.py)
AGENTS: tuple[str, ...] = (QUEUE_STREAMING,)     # queues whose workers may run streaming steps
DEFAULT_AGENT = QUEUE_STREAMING
DEFAULT_MAX_BATCH_SIZE, MAX_BATCH_SIZE_RANGE = 500, (1, 10000)
DEFAULT_MAX_BATCH_WAIT_MS, MAX_BATCH_WAIT_RANGE = 1000, (10, 60000)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class StreamingSettings:
    """lease_s: how long a step's claim on its pipeline lasts (renewed by every step, and right
    before each target write); a chain whose worker died is taken over once it has passed.
    stall_s: the watchdog relaunches an active pipeline whose heartbeat is older than this and
    whose lease has expired. watchdog_interval_s: how often beat fires the watchdog.
    max_await_ms: how long one getMore of a change stream waits on the server."""

    lease_s: float = 60.0
    stall_s: float = 15.0
    watchdog_interval_s: float = 10.0
    max_await_ms: int = 200
    max_errors_in_row: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "StreamingSettings":
        env = os.environ if environ is None else environ
        d = cls()
        return cls(lease_s=_number(env, "SLUICE_STREAM_LEASE_S", d.lease_s),
                   stall_s=_number(env, "SLUICE_STREAM_STALL_S", d.stall_s),
                   watchdog_interval_s=_number(env, "SLUICE_STREAM_WATCHDOG_S", d.watchdog_interval_s),
                   max_await_ms=int(_number(env, "SLUICE_STREAM_MAX_AWAIT_MS", d.max_await_ms)),
                   max_errors_in_row=int(_number(env, "SLUICE_STREAM_MAX_ERRORS", d.max_errors_in_row)))


ENV_DOCS: dict[str, str] = {
    "SLUICE_STREAM_LEASE_S": "Lease of a streaming step on its pipeline (default 60); a dead worker's chain is taken over after it.",
    "SLUICE_STREAM_STALL_S": "The streaming watchdog relaunches pipelines with no heartbeat for this long and an expired lease (default 15).",
    "SLUICE_STREAM_WATCHDOG_S": "How often beat fires the streaming watchdog (default 10).",
    "SLUICE_STREAM_MAX_AWAIT_MS": "Server-side wait of one change-stream getMore (default 200).",
    "SLUICE_STREAM_MAX_ERRORS": "Consecutive infrastructure errors after which a pipeline is FAILED (default 10).",
}
