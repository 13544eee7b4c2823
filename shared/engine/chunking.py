"""What every chunked job shares (batch tiers and pipeline runs): how long a chunk works before
it hands the rest of its range on, how often it marks its job alive, how a split chunk resumes
and hands on, and how a completed chunk is counted in the metrics (once)."""
from __future__ import annotations

from typing import Any, Callable

from shared.settings import Settings


def time_budget_s(settings: Settings) -> float:
    """How long a chunk works before handing its remaining records to a continuation: half
    the soft task limit, so even a slow record started near the budget ends well inside it."""
    return settings.task_soft_time_limit_s / 2


def heartbeat_interval_s(settings: Settings) -> float:
    """How often a process marks a batch or run alive: a stall is judged over
    stall_timeout_s, so a heartbeat every 1/20th of it (at most 5 s) is plenty."""
    return min(5.0, settings.stall_timeout_s / 20)


def resume_split(owner: Any, chunk: dict, dispatch: Callable[[list[str]], None] | None) -> list[str]:
    """A chunk an earlier execution split keeps its split: its continuations' rows are
    re-created (it may have died before writing them) and sent again. `owner` is the store
    of the chunk rows (batches or runs)."""
    if chunk.get("split_at") is None:
        return []
    ids = owner.ensure_continuations(chunk)
    if dispatch is not None:
        dispatch(ids)
    return ids


def hand_on(owner: Any, chunk: dict, split_lo: Any, done: int,
            dispatch: Callable[[list[str]], None] | None) -> dict | None:
    """Split `chunk` before the record at `split_lo` (after `done` records) and send the new
    continuation at once; the updated chunk row, or None if the row changed meanwhile."""
    split = owner.split_chunk(chunk, split_lo, done)
    if split is not None and dispatch is not None:
        dispatch([split["continuations"][-1]["_id"]])
    return split


def record_metrics(metrics: Any, kind: str, target: str, processed: int, errors_by_code: dict[str, int],
                   seconds: float) -> None:
    """Counted only by the call that completed the chunk, so redeliveries never add twice."""
    labels = {"kind": kind, "target": target}
    ops = [metrics.inc_op("sluice_records_processed_total", labels, processed),
           metrics.observe_op("sluice_chunk_duration_seconds", {"kind": kind}, seconds)]
    ops += [metrics.inc_op("sluice_records_failed_total", {**labels, "code": code}, n)
            for code, n in errors_by_code.items()]
    metrics.apply(ops)
