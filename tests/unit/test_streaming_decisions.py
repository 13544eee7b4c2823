"""Pure decisions of streaming pipelines: what a step does, commands, start modes, lease and
watchdog rules, batching, lag, snapshot paging, and the batch transform/write logic with fakes."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.engine.streaming.apply import Batch, Transformer, write
from shared.settings import StreamingSettings
from shared.engine.streaming.decisions import (FRESH_SNAPSHOT, RESUME_SNAPSHOT, STREAM_ONLY, can_claim, chunk_id,
                                               collapse, command_outcome, lag_seconds, read_wait_s, retry_delay,
                                               snapshot_advance, start_mode, step_action, watchdog_action)
from shared.settings import Settings
from shared.status import can_transition

NOW = datetime(2024, 5, 1, 12, 0, 0)


def test_step_action_by_status():
    assert [step_action(s) for s in ("STARTING", "SNAPSHOTTING", "STREAMING", "STOPPING", "NOT_RUNNING", "FAILED")] \
        == ["start", "snapshot", "stream", "stop", "exit", "exit"]


@pytest.mark.parametrize("status,command,expected", [
    ("NOT_RUNNING", "START", ("transition", "STARTING")),
    ("FAILED", "START", ("transition", "STARTING")),
    ("STARTING", "START", "conflict"), ("SNAPSHOTTING", "START", "conflict"),
    ("STREAMING", "START", "conflict"), ("STOPPING", "START", "conflict"),
    ("STARTING", "STOP", ("transition", "STOPPING")), ("SNAPSHOTTING", "STOP", ("transition", "STOPPING")),
    ("STREAMING", "STOP", ("transition", "STOPPING")),
    ("STOPPING", "STOP", ("noop", None)), ("NOT_RUNNING", "STOP", ("noop", None)), ("FAILED", "STOP", ("noop", None)),
])
def test_command_outcome(status, command, expected):
    outcome = command_outcome(status, command)
    if expected == "conflict":
        assert outcome[0] == "conflict" and status in outcome[1]
    else:
        assert outcome == expected
        if outcome[0] == "transition":
            assert can_transition("streaming", status, outcome[1])


def test_every_transition_a_step_makes_is_in_the_status_table():
    for old, new in [("STARTING", "SNAPSHOTTING"), ("STARTING", "STREAMING"), ("SNAPSHOTTING", "STREAMING"),
                     ("STOPPING", "NOT_RUNNING"), ("STREAMING", "FAILED"), ("SNAPSHOTTING", "FAILED"),
                     ("STARTING", "FAILED"), ("STOPPING", "FAILED")]:
        assert can_transition("streaming", old, new), (old, new)
    assert not can_transition("streaming", "STOPPING", "STREAMING")  # a STOP is never undone by a late step


@pytest.mark.parametrize("enabled,token,in_progress,override,mode", [
    (True, False, False, None, FRESH_SNAPSHOT),      # first START
    (False, False, False, None, STREAM_ONLY),        # snapshot disabled: from now
    (True, True, False, None, STREAM_ONLY),          # restart resumes the saved token
    (True, True, True, None, RESUME_SNAPSHOT),       # a STOP interrupted the snapshot
    (True, True, False, True, FRESH_SNAPSHOT),       # explicit re-sync
    (True, True, True, False, STREAM_ONLY),          # explicit "no snapshot"
    (False, False, False, True, FRESH_SNAPSHOT),
])
def test_start_mode(enabled, token, in_progress, override, mode):
    assert start_mode(enabled, token, in_progress, override) == mode


def _doc(**kw):
    return {"epoch": 3, "status": "STREAMING", "lease_owner": "a", "lease_until": NOW + timedelta(seconds=30),
            "heartbeat_at": NOW, **kw}


def test_lease_claim_rules():
    assert can_claim(_doc(), 3, "a", NOW)                          # the owning chain continues
    assert not can_claim(_doc(), 3, "b", NOW)                      # another chain waits for expiry
    assert can_claim(_doc(lease_until=NOW - timedelta(seconds=1)), 3, "b", NOW)
    assert can_claim(_doc(lease_owner=None, lease_until=None), 3, "b", NOW)
    assert not can_claim(_doc(), 2, "a", NOW)                      # a chain of an earlier START exits
    assert not can_claim(_doc(status="NOT_RUNNING"), 3, "a", NOW)
    assert can_claim(_doc(status="STOPPING"), 3, "a", NOW)         # it must see the STOP to honour it


def test_watchdog_rules():
    stale = NOW - timedelta(seconds=20)
    expired = NOW - timedelta(seconds=1)
    assert watchdog_action(_doc(), NOW, 15) is None                                    # healthy
    assert watchdog_action(_doc(heartbeat_at=stale), NOW, 15) is None                   # lease still live
    assert watchdog_action(_doc(heartbeat_at=stale, lease_until=expired), NOW, 15) == "relaunch"
    assert watchdog_action(_doc(heartbeat_at=stale, lease_until=None), NOW, 15) == "relaunch"  # lost first step
    assert watchdog_action(_doc(heartbeat_at=stale, lease_until=expired, status="STOPPING"), NOW, 15) == "stop"
    assert watchdog_action(_doc(heartbeat_at=stale, lease_until=expired, status="FAILED"), NOW, 15) is None
    assert watchdog_action(_doc(heartbeat_at=NOW - timedelta(seconds=5), lease_until=expired), NOW, 15) is None


def test_collapse_keeps_the_last_change_per_key_in_order_of_that_change():
    events = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)]
    assert list(collapse(events, key=lambda e: e[0]).values()) == [("a", 3), ("c", 4), ("b", 5)]
    assert collapse([], key=lambda e: e) == {}


def test_batching_and_backoff_and_lag():
    assert read_wait_s(1000, 60) == 1.0
    assert read_wait_s(60000, 30) == 10.0                 # never most of a lease
    assert [retry_delay(n, 60) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]
    assert retry_delay(10, 8) == 4.0
    assert lag_seconds(NOW, None) == 0.0
    assert lag_seconds(NOW, NOW - timedelta(milliseconds=1500)) == 1.5
    assert lag_seconds(NOW, NOW + timedelta(seconds=1)) == 0.0   # clock skew never makes lag negative


def test_snapshot_advance():
    rows = [{"_id": i} for i in range(3)]
    assert snapshot_advance(0, 2, rows, 3) == {"part": 0, "after": 2, "started": True}
    assert snapshot_advance(0, 2, rows[:2], 3) == {"part": 1, "after": None, "started": False}
    assert snapshot_advance(1, 2, [], 3) is None


def test_chunk_ids_are_deterministic_per_range():
    a = chunk_id("p", "stream", {"_data": "01"}, {"_data": "02"})
    assert a == chunk_id("p", "stream", {"_data": "01"}, {"_data": "02"}) and a.startswith("p:")
    assert a != chunk_id("p", "stream", {"_data": "01"}, {"_data": "03"})


def test_streaming_settings_from_env():
    s = StreamingSettings.from_env({"SLUICE_STREAM_LEASE_S": "4", "SLUICE_STREAM_STALL_S": "2.5"})
    assert (s.lease_s, s.stall_s, s.watchdog_interval_s) == (4.0, 2.5, 10.0)
    with pytest.raises(ValueError, match="SLUICE_STREAM_LEASE_S"):
        StreamingSettings.from_env({"SLUICE_STREAM_LEASE_S": "soon"})
    with pytest.raises(ValueError):
        StreamingSettings.from_env({"SLUICE_STREAM_STALL_S": "0"})


# -- the batch: filters, JavaScript, writes -------------------------------------------------------
def _apply(definition: dict, records: dict[str, dict]) -> Batch:
    batch = Batch()
    with Transformer(definition, Settings()) as tf:
        for key, record in records.items():
            tf.apply(batch, key, record)
    return batch


def test_transformer_filters_transforms_and_counts_failures():
    code = """function transform(r) {
      if (r.mode === 'throw') throw new Error('bad ' + r.n);
      if (r.mode === 'drop') return null;
      if (r.mode === 'many') return [{a: 1}, {a: 2}];
      if (r.mode === 'keep') return true;
      return {n: r.n * 2};
    }"""
    batch = _apply({"filters": {"field": "n", "operator": "lt", "value": 100}, "transformation": {"code": code}},
                   {"k1": {"n": 1}, "k2": {"n": 500}, "k3": {"n": 3, "mode": "throw"}, "k4": {"n": 4, "mode": "drop"},
                    "k5": {"n": 5, "mode": "many"}, "k6": {"n": 6, "mode": "keep"}})
    assert batch.upserts == [("k1", {"n": 2}), ("k6", {"n": 6, "mode": "keep"})]
    assert batch.removals == ["k2", "k4"]     # filtered out / dropped: removed from the target if there
    assert {f["key"]: f["code"] for f in batch.failures} == {"k3": "JS_ERROR", "k5": "JS_OUTPUT"}


def test_transformer_without_code_passes_records_through():
    batch = _apply({}, {"a": {"x": 1}})
    assert batch.upserts == [("a", {"x": 1})] and not batch.removals and not batch.failures


class FakeTarget:
    def __init__(self, held: set[str], refuse: set[str] = frozenset()):
        self.held, self.refuse, self.calls = set(held), set(refuse), []

    def existing(self, keys):
        self.calls.append(("existing", sorted(keys)))
        return self.held & set(keys)

    def write(self, items, context):
        self.calls.append(("write", [k for k, _ in items]))
        self.held |= {k for k, _ in items if k not in self.refuse}
        return {k: "refused" for k, _ in items if k in self.refuse}

    def delete(self, keys, context):
        self.calls.append(("delete", list(keys)))
        self.held -= set(keys)
        return {}


def test_write_deletes_only_what_the_target_holds_and_counts_applied():
    target = FakeTarget({"old", "gone"}, refuse={"bad"})
    batch = Batch(upserts=[("new", {}), ("bad", {})], removals=["old", "never"])
    written = write(target, batch, ["gone", "unknown"], {})
    assert target.held == {"new"}
    assert ("delete", ["gone", "old"]) in [(c[0], sorted(c[1])) for c in target.calls]
    assert written.applied == 3 and written.present == {"old", "gone"}
    assert [(f["key"], f["code"]) for f in batch.failures] == [("bad", "WRITE_FAILED")]


def test_write_of_nothing_touches_nothing():
    target = FakeTarget(set())
    assert write(target, Batch(), [], {}).applied == 0 and target.calls == []
