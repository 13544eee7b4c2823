from datetime import datetime, timedelta

import pytest

from shared.engine.runs.schedule import PERIODS, advance, first_run_at, is_due, offset_for


def test_offsets_are_stable_spread_and_within_the_period():
    offsets = {offset_for(f"pipe_{i}", "1h") for i in range(200)}
    assert all(0 <= o < 3600 for o in offsets) and len(offsets) > 150
    assert offset_for("pipe_x", "1h") == offset_for("pipe_x", "1h")


@pytest.mark.parametrize("period", list(PERIODS))
def test_first_run_is_aligned_and_in_the_future(period):
    now = datetime(2026, 11, 23, 10, 17, 3)
    off = offset_for("pipe_a", period)
    first = first_run_at(period, off, now)
    assert now < first <= now + timedelta(seconds=PERIODS[period])
    assert int((first - datetime(1970, 1, 1)).total_seconds() - off) % PERIODS[period] == 0


def test_next_run_comes_from_the_previous_schedule_not_from_now():
    scheduled = datetime(2026, 1, 1, 12, 0, 0)
    late_tick = scheduled + timedelta(seconds=47)  # the tick ran 47 s late
    step = advance("5m", scheduled, late_tick)
    assert step.next_run_at == datetime(2026, 1, 1, 12, 5, 0) and step.missed == 0
    # a hundred periods later, no drift accumulated
    t = scheduled
    for _ in range(100):
        t = advance("5m", t, t + timedelta(seconds=59)).next_run_at
    assert t == scheduled + timedelta(minutes=500)


def test_downtime_coalesces_missed_occurrences():
    scheduled = datetime(2026, 1, 1, 12, 0, 0)
    now = scheduled + timedelta(minutes=17)  # beat was down; 12:05, 12:10, 12:15 passed too
    step = advance("5m", scheduled, now)
    assert step.fire_at == scheduled
    assert step.missed == 3 and step.next_run_at == datetime(2026, 1, 1, 12, 20, 0)


def test_is_due():
    t = datetime(2026, 1, 1)
    assert is_due(t, t) and is_due(t, t + timedelta(seconds=1))
    assert not is_due(t, t - timedelta(seconds=1)) and not is_due(None, t)
