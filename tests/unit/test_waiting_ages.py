"""The age of the oldest waiting chunk per chunk queue, from the engine's records (pure parts)."""
from __future__ import annotations

from shared.engine.waiting import oldest_by_queue, queue_of

NAMES = ["default", "default.1", "default.2"]


def test_a_namespace_maps_to_its_lane_and_an_unknown_or_stale_lane_to_the_first():
    assigned = {"ns_a": 2, "ns_b": 7}
    assert queue_of("ns_a", assigned, NAMES) == "default.2"
    assert queue_of("ns_b", assigned, NAMES) == "default"     # lanes were reduced since
    assert queue_of("ns_c", assigned, NAMES) == "default"
    assert queue_of("ns_a", assigned, ["default"]) == "default"   # fifo: one queue


def test_each_queue_reports_its_longest_wait_and_zero_when_nothing_waits():
    ages = oldest_by_queue([("default.1", 3.25), ("default.1", 12.5), ("default", 0.4), ("default", -0.1)], NAMES)
    assert ages == {"default": 0.4, "default.1": 12.5, "default.2": 0.0}
