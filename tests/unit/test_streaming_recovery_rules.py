"""START's resumeFrom and the lag alert are pure decisions."""
from __future__ import annotations

from datetime import datetime

import pytest

from shared.engine.streaming.decisions import LAG_ALERT_STEPS, lag_alert, parse_resume_from


def test_resume_from_choices():
    assert parse_resume_from(None) == (None, None)
    assert parse_resume_from("snapshot") == ("snapshot", None)
    assert parse_resume_from("now") == ("now", None)
    assert parse_resume_from("2026-01-02T03:04:05Z") == ("time", datetime(2026, 1, 2, 3, 4, 5))
    assert parse_resume_from("2026-01-02T05:04:05+02:00") == ("time", datetime(2026, 1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="snapshot"):
        parse_resume_from("yesterday")


def test_lag_alert_fires_once_per_episode_after_steps_in_a_row():
    streak, fired = 0, []
    for lag in [5, 5, 5, 5, 0, 5, 5, 5]:
        streak, fire = lag_alert(lag, 1.0, streak)
        fired.append(fire)
    assert LAG_ALERT_STEPS == 3
    assert fired == [False, False, True, False, False, False, False, True]
    assert lag_alert(100, None, 7) == (0, False)
