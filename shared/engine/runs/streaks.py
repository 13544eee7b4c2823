"""Failure streaks: a pipeline whose runs keep failing warns (`pipeline.failing`) and then
disables itself (`pipeline.disabled`), recording why, instead of failing on every schedule
tick for ever. Off unless the pipeline sets `disable_after_failures`."""
from __future__ import annotations

from shared.engine.events import emit
from shared.status import RunStatus
from shared.stores import Stores
from shared.timeutil import utcnow


def failing_threshold(disable_after: int, failing_after: int | None) -> int:
    """When `pipeline.failing` fires: as set, else two thirds of the way to disabling."""
    if failing_after is not None:
        return failing_after
    return max(1, (2 * disable_after) // 3)


def streak_action(streak: int, disable_after: int | None, failing_after: int | None) -> str | None:
    """'disable' | 'failing' | None for a pipeline that has just had `streak` failed runs in a row."""
    if not disable_after or streak <= 0:
        return None
    if streak >= disable_after:
        return "disable" if streak == disable_after else None
    return "failing" if streak == failing_threshold(disable_after, failing_after) else None


def after_run(stores: Stores, run: dict) -> str | None:
    """Count the ended run into its pipeline's streak (FAILED adds one, any finished run resets
    it; a canceled run changes nothing) and act on it."""
    if run["status"] == RunStatus.CANCELED.value:
        return None
    failed = run["status"] == RunStatus.FAILED.value
    pipeline = stores.pipelines.note_run_outcome(run["pipeline"], failed)
    if pipeline is None:
        return None
    policy = pipeline.get("failure_policy") or {}
    streak = pipeline.get("failure_streak", 0)
    action = streak_action(streak, policy.get("disable_after_failures"), policy.get("failing_after_failures"))
    data = {"pipeline_id": pipeline["_id"], "alias": pipeline.get("alias"), "consecutive_failures": streak,
            "last_run_id": run["_id"], "last_error": run.get("error") or ""}
    if action == "disable":
        reason = f"disabled after {streak} consecutive failed runs; the last: {run.get('error') or 'FAILED'}"
        stores.pipelines.disable(pipeline["_id"], reason, utcnow())
        emit(stores, pipeline["namespace_id"], "pipeline.disabled", {**data, "reason": reason})
    elif action == "failing":
        emit(stores, pipeline["namespace_id"], "pipeline.failing",
             {**data, "disable_after_failures": policy.get("disable_after_failures")})
    return action
