"""The scheduling tick: claim each due occurrence with a compare-and-set, then run it or
record why it was skipped. Called by a Celery beat task; `now` and the run starter are
passed in, so this is tested without Celery or a clock."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from shared.engine.runs.backfill import advance_backfills
from shared.engine.runs.runs import start_run
from shared.engine.runs.schedule import advance
from shared.errors import Unprocessable
from shared.stores import Stores


def tick(stores: Stores, now: datetime, launch: Callable[[dict], None]) -> dict[str, int]:
    summary = {"fired": 0, "skipped": 0, "lost_race": 0}
    for pipeline in stores.pipelines.due(now):
        schedule = pipeline.get("schedule") or {}
        if not schedule.get("period"):
            continue
        step = advance(schedule["period"], schedule["next_run_at"], now)
        if not stores.pipelines.claim_occurrence(pipeline["_id"], schedule["next_run_at"], step.next_run_at):
            summary["lost_race"] += 1  # another scheduler claimed this occurrence first
            continue
        if step.missed:
            stores.pipelines.record_skip(pipeline["_id"], step.fire_at,
                                         f"{step.missed} later occurrence(s) coalesced: no scheduler was running")

        try:
            run = start_run(stores, pipeline, None, trigger="schedule")
        except Unprocessable as exc:
            stores.pipelines.record_skip(pipeline["_id"], step.fire_at, exc.message)
            summary["skipped"] += 1
            continue
        launch(run)
        summary["fired"] += 1
    summary["backfill"] = advance_backfills(stores, launch)
    return summary
