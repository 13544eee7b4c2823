"""Dead or slow: the liveness decisions, with injected clocks."""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.engine.liveness import (Observer, dead_owners, is_dead, lost_callback, may_judge,
                                    next_streak_start, orphaned)

T0 = datetime(2024, 1, 1, 12, 0, 0)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_a_slow_worker_that_keeps_beating_is_alive_however_long_its_chunk_runs():
    # The beat comes from the worker's main process; the chunk may run for minutes.
    assert not is_dead(at(298), at(300), dead_after_s=10)
    assert is_dead(at(289), at(300), dead_after_s=10)
    assert is_dead(None, at(300), dead_after_s=10)


def test_a_fresh_observer_judges_at_once_but_not_right_after_the_store_restarted():
    fresh = Observer(now=at(100), streak_start=at(99), fresh=True, store_started_at=at(0))
    assert may_judge(fresh, 10)
    assert dead_owners(["a", "b", "a"], {"a": at(80), "b": at(98)}, fresh, 10) == ["a"]
    restarted = Observer(now=at(100), streak_start=at(99), fresh=True, store_started_at=at(95))
    assert not may_judge(restarted, 10)
    assert dead_owners(["a"], {"a": at(80)}, restarted, 10) == []


def test_an_observer_that_lost_the_store_itself_waits_a_full_window_before_judging():
    back = Observer(now=at(100), streak_start=at(97), fresh=False, store_started_at=at(0))
    assert not may_judge(back, 10)
    assert may_judge(Observer(now=at(108), streak_start=at(97), fresh=False), 10)


def test_a_gap_in_ones_own_beats_starts_a_new_streak():
    assert next_streak_start(None, None, at(5), 2) == at(5)
    assert next_streak_start(at(3), at(1), at(5), 2) == at(1)
    assert next_streak_start(at(3), at(1), at(8), 2) == at(8)


def test_a_tier_whose_chunks_are_all_done_but_is_still_open_lost_its_callback():
    assert lost_callback("PROCESSING", 0, at(0), at(20), grace_s=15)
    assert not lost_callback("PROCESSING", 0, at(10), at(20), grace_s=15)
    assert not lost_callback("PROCESSING", 3, at(0), at(20), grace_s=15)
    assert not lost_callback("COMPLETED", 0, at(0), at(20), grace_s=15)


def test_unheld_unqueued_chunks_without_progress_are_orphans():
    assert orphaned([None, None], alive={"w1"}, queued=0, last_progress=at(0), now=at(20), grace_s=15)
    assert orphaned(["dead"], alive={"w1"}, queued=0, last_progress=at(0), now=at(20), grace_s=15)
    assert not orphaned([None, "w1"], alive={"w1"}, queued=0, last_progress=at(0), now=at(20), grace_s=15)
    assert not orphaned([None], alive=set(), queued=4, last_progress=at(0), now=at(20), grace_s=15)
    assert not orphaned([None], alive=set(), queued=None, last_progress=at(0), now=at(20), grace_s=15)
    assert not orphaned([None], alive=set(), queued=0, last_progress=at(10), now=at(20), grace_s=15)
    assert not orphaned([], alive=set(), queued=0, last_progress=at(0), now=at(20), grace_s=15)
