"""Pure rules of pipeline recovery: error budgets, failure streaks, backfill windows."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.engine.runs.backfill import range_windows, skipped_windows
from shared.engine.runs.budget import budget_problem
from shared.engine.runs.streaks import failing_threshold, streak_action
from shared.errors import ValidationFailed


def test_budget_by_count_and_ratio():
    assert budget_problem(None, None, 500, 500, True) is None
    assert budget_problem(2, None, 2, 10, False) is None
    assert "more than max_failed_records 2" in budget_problem(2, None, 3, 10, False)
    # a ratio is not judged on a small sample until the run ends
    assert budget_problem(None, 0.1, 5, 10, False) is None
    assert "5 of 10 records failed (50.0%)" in budget_problem(None, 0.1, 5, 10, True)
    assert budget_problem(None, 0.1, 30, 200, False) is not None
    assert budget_problem(None, 0.5, 30, 200, True) is None


def test_streaks_warn_once_then_disable_once():
    assert streak_action(5, None, None) is None           # off by default
    assert failing_threshold(30, None) == 20              # Airbyte's 20 / 30
    actions = [streak_action(n, 3, None) for n in range(0, 6)]
    assert actions == [None, None, "failing", "disable", None, None]
    assert streak_action(1, 2, 1) == "failing" and streak_action(2, 2, 1) == "disable"


def test_windows_of_a_range_and_of_skipped_occurrences():
    t0 = datetime(2026, 1, 1)
    w = range_windows(t0, t0 + timedelta(minutes=150), "1h")
    assert [(x["start"], x["end"]) for x in w] == [
        (t0, t0 + timedelta(hours=1)), (t0 + timedelta(hours=1), t0 + timedelta(hours=2)),
        (t0 + timedelta(hours=2), t0 + timedelta(minutes=150))]
    with pytest.raises(ValidationFailed) as err:
        range_windows(t0, t0 + timedelta(days=30), "5m")
    assert err.value.details[0]["path"] == "window"
    skipped = [{"scheduled_at": t0 + timedelta(hours=h)} for h in (5, 2, 5)]
    assert skipped_windows(skipped, "1h") == [{"start": t0 + timedelta(hours=1), "end": t0 + timedelta(hours=2)},
                                              {"start": t0 + timedelta(hours=4), "end": t0 + timedelta(hours=5)}]
