"""The run of identical costly failures after which the rest of a chunk fails fast."""
from shared.engine.failfast import FailureStreak


def test_trips_after_threshold_identical_costly_failures():
    s = FailureStreak(3)
    for _ in range(2):
        s.record_failure("JS_TIMEOUT", "exceeded 200 ms")
    assert not s.tripped
    s.record_failure("JS_TIMEOUT", "exceeded 200 ms")
    assert s.tripped and s.code == "JS_TIMEOUT"
    assert "3 records before it" in s.skip_message() and "exceeded 200 ms" in s.skip_message()


def test_a_success_a_cheap_failure_or_a_different_failure_restarts_the_count():
    s = FailureStreak(2)
    s.record_failure("JS_TIMEOUT", "t")
    s.record_ok()
    s.record_failure("JS_TIMEOUT", "t")
    assert not s.tripped
    s.record_failure("JS_MEMORY", "m")
    assert not s.tripped and s.count == 1
    s.record_failure("JS_ERROR", "boom")        # cheap: never trips, and breaks the run
    s.record_failure("JS_ERROR", "boom")
    assert not s.tripped and s.count == 0


def test_zero_disables():
    s = FailureStreak(0)
    for _ in range(100):
        s.record_failure("JS_TIMEOUT", "t")
    assert not s.tripped
