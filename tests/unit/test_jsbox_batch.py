"""Sandbox.call_many: many records per crossing of the Python/QuickJS boundary, with exactly
the per-record results (values and typed errors) of one `call` per record."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shared.jsbox import JS_ERROR, JS_MEMORY, JS_OUTPUT, JS_STACK, JS_TIMEOUT, JsError, JsLimits, Sandbox, clear_pool
from shared.windows import next_window

LIMITS = JsLimits(time_ms=200, memory_mb=16, stack_kb=256)

# Each record picks its fate by `kind`; the code keeps top-level state, to show it is fresh.
CODE = """
let seen = 0;
function deep(n) { return n === 0 ? 0 : 1 + deep(n - 1); }
function transform(d) {
  seen += 1;
  switch (d.kind) {
    case "throw": throw new TypeError("bad " + d.v);
    case "undefined": return undefined;
    case "function": return function () {};
    case "drop": return null;
    case "many": return [{v: d.v}, {v: d.v, seen: seen}];
    case "global": leaked = d.v; return {};
    case "stack": return {depth: deep(1e6)};
    case "loop": for (;;) {}
    case "memory": { const a = []; for (;;) a.push("x".repeat(1024)); }
    case "big": return {s: "y".repeat(300)};
    case "rand": return {r: Math.random() < 2, t: performance.now() < 1000};
    default: return {v: d.v, seen: seen, keys: Object.keys(d).length};
  }
}
"""
CHEAP = ["ok", "ok", "ok", "throw", "undefined", "function", "drop", "many", "global", "big", "rand"]
COSTLY = ["stack", "loop", "memory"]


@pytest.fixture(autouse=True)
def _fresh_pool():
    clear_pool()
    yield
    clear_pool()


def one_by_one(records: list, code: str = CODE, **kw) -> list:
    with Sandbox(code, limits=LIMITS, **kw) as box:
        out = []
        for r in records:
            try:
                out.append(box.call(r))
            except JsError as exc:
                out.append(exc)
        return out


def batched(records: list, code: str = CODE, **kw) -> tuple[list, Sandbox]:
    with Sandbox(code, limits=LIMITS, **kw) as box:
        return box.call_many(records), box


def same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, JsError) or isinstance(y, JsError):
            assert isinstance(x, JsError) and isinstance(y, JsError), (x, y)
            assert x.to_dict() == y.to_dict()
        else:
            assert x == y


values = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 53, 2 ** 53) | st.text(max_size=20)
                      | st.floats(allow_nan=False, allow_infinity=False),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=4), max_leaves=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(CHEAP), values), min_size=1, max_size=60))
def test_call_many_gives_each_record_what_its_own_call_gives(recs):
    records = [{"kind": k, "v": v} for k, v in recs]
    got, box = batched(records, max_output_chars=200)
    same(got, one_by_one(records, max_output_chars=200))
    assert box.stats.records == len(records)


@pytest.mark.parametrize("costly", COSTLY)
def test_records_that_hit_a_limit_fail_alone_with_their_own_code(costly):
    records = [{"kind": "ok", "v": i} for i in range(40)]
    records[17] = {"kind": costly, "v": 17}
    records[30] = {"kind": "throw", "v": 30}
    got, _ = batched(records)
    same(got, one_by_one(records))
    assert got[17].code == {"stack": JS_STACK, "loop": JS_TIMEOUT, "memory": JS_MEMORY}[costly]
    assert got[30].code == JS_ERROR and got[31] == {"v": 31, "seen": 1, "keys": 2}


def test_fewer_crossings_than_records():
    calls = []
    with Sandbox("function transform(d) { return {v: d.v * 2}; }", limits=LIMITS) as box:
        real = box._invoke
        box._invoke = lambda *a: calls.append(a) or real(*a)
        out = box.call_many([{"v": i} for i in range(500)])
    assert out == [{"v": 2 * i} for i in range(500)]
    assert len(calls) <= 10                      # windows of 8, 16, 32, ... up to 256


def test_a_failing_load_and_a_closed_sandbox_behave_as_call_does():
    box = Sandbox("function transform(d) { return d; }", limits=LIMITS)
    box.close()
    with pytest.raises(RuntimeError):
        box.call_many([{}])
    assert one_by_one([{"kind": "big"}], max_output_chars=10)[0].code == JS_OUTPUT


@pytest.mark.parametrize("size,seconds,count,expected", [
    (8, 0.0, 8, 16),            # no measurable time: grow, at most doubling
    (256, 0.0, 256, 256),       # never above the cap
    (64, 0.064, 64, 50),        # 1 ms each, 50 ms wanted
    (16, 16.0, 16, 1),          # slow items: one at a time
    (4, 1.0, 0, 4)])            # nothing measured: unchanged
def test_window_sizes(size, seconds, count, expected):
    assert next_window(size, seconds, count, 0.05, 256) == expected
