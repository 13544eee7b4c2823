"""Backfill: run the occurrences the scheduler skipped, or a time range, as incremental
windows — one run per window, in order, each reading the records whose update time falls in
(start, end]. The plan lives on the pipeline; the next window starts when the run before it
ended (run_done, and the scheduling tick as a safety net). A FAILED window stops the backfill,
so no later window runs ahead of a gap."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from shared.engine.runs.runs import start_run
from shared.engine.runs.schedule import PERIODS
from shared.errors import Unprocessable, ValidationFailed
from shared.status import RunStatus
from shared.stores import Stores
from shared.timeutil import utcnow

MAX_WINDOWS = 1000
DEFAULT_WINDOW = "24h"


def skipped_windows(skipped: list[dict], period: str) -> list[dict]:
    """Each skipped occurrence covers the period that ended at it."""
    step = timedelta(seconds=PERIODS[period])
    times = sorted({s["scheduled_at"] for s in skipped})
    return [{"start": t - step, "end": t} for t in times]


def range_windows(start: datetime, end: datetime, window: str) -> list[dict]:
    step = timedelta(seconds=PERIODS[window])
    count = -(-(end - start) // step)
    if count > MAX_WINDOWS:
        raise ValidationFailed.at("window", f"{count} windows of {window}; at most {MAX_WINDOWS}: use a longer window")
    return [{"start": start + i * step, "end": min(end, start + (i + 1) * step)} for i in range(count)]


def plan_backfill(pipeline: dict, body: dict) -> list[dict]:
    if not pipeline.get("update_time_field"):
        raise Unprocessable("incremental requires an update time column", code="incremental_without_update_time")
    period = (pipeline.get("schedule") or {}).get("period")
    if body.get("skipped"):
        if not period:
            raise Unprocessable("the pipeline has no schedule, so no skipped occurrences", code="nothing_to_backfill")
        windows = skipped_windows(pipeline.get("skipped") or [], period)
        if not windows:
            raise Unprocessable("no skipped occurrences to backfill", code="nothing_to_backfill")
        return windows
    window = body.get("window") or period or DEFAULT_WINDOW
    if window not in PERIODS:
        raise ValidationFailed.at("window", f"must be one of {', '.join(PERIODS)}")
    naive = [d.replace(tzinfo=None) - (d.utcoffset() or timedelta(0)) for d in (body["start"], body["end"])]
    return range_windows(naive[0], naive[1], window)


def _window_run(stores: Stores, pipeline: dict, window: dict, index: int) -> dict:
    run = start_run(stores, pipeline, True, trigger="backfill")
    fields = {"cursor_from": window["start"], "window": {**window, "index": index}}
    stores.runs.set_fields(run["_id"], fields)
    return {**run, **fields}


def start_backfill(stores: Stores, pipeline: dict, body: dict) -> tuple[dict, list[dict]]:
    """Plan the windows and start the first one's run (not yet enqueued); (run, windows)."""
    windows = plan_backfill(pipeline, body)
    run = _window_run(stores, pipeline, windows[0], 0)
    stores.pipelines.set_backfill(pipeline["_id"], {"status": "running", "windows": windows, "next": 1,
                                                    "runs": [run["_id"]], "started_at": utcnow(),
                                                    "source": "skipped" if body.get("skipped") else "range"},
                                  clear_skipped=bool(body.get("skipped")))
    return run, windows


def next_window(stores: Stores, pipeline_id: str) -> dict | None:
    """Start the next window's run of a running backfill whose last run has ended; None when
    there is none (finished, stopped, or a run is still active)."""
    pipeline = stores.pipelines.by_id(pipeline_id)
    plan = (pipeline or {}).get("backfill") or {}
    if plan.get("status") != "running" or pipeline.get("active_run_id"):
        return None
    last = stores.runs.get(plan["runs"][-1]) if plan.get("runs") else None
    if last is not None and last["status"] == RunStatus.FAILED.value:
        stores.pipelines.end_backfill(pipeline_id, plan["next"], "stopped",
                                      f"window {plan['next'] - 1} failed: {last.get('error')}")
        return None
    index = plan["next"]
    if index >= len(plan["windows"]):
        stores.pipelines.end_backfill(pipeline_id, index, "completed", None)
        return None
    if not stores.pipelines.claim_backfill_window(pipeline_id, index):
        return None  # another tick or callback took it
    try:
        run = _window_run(stores, pipeline, plan["windows"][index], index)
    except Unprocessable as exc:
        stores.pipelines.end_backfill(pipeline_id, index + 1, "stopped", exc.message)
        return None
    stores.pipelines.add_backfill_run(pipeline_id, run["_id"])
    return run


def advance_backfills(stores: Stores, launch: Callable[[dict], None]) -> int:
    """The tick's safety net: start the next window of every idle running backfill."""
    started = 0
    for pipeline_id in stores.pipelines.idle_backfills():
        run = next_window(stores, pipeline_id)
        if run is not None:
            launch(run)
            started += 1
    return started
