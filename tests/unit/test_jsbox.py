"""The QuickJS sandbox: typed errors, limits, and isolation between records."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from shared.errors import ValidationFailed
from shared.jsbox import (JS_ERROR, JS_MEMORY, JS_OUTPUT, JS_STACK, JS_SYNTAX, JS_TIMEOUT,
                          JsError, JsLimits, Sandbox, check_syntax, clear_pool, validate_limits)
from shared.settings import Settings

FAST = JsLimits(time_ms=150, memory_mb=8, stack_kb=256)
PATH = "feature_extractors.0.parameters.code"


@pytest.fixture(autouse=True)
def _fresh_pool():
    clear_pool()
    yield
    clear_pool()


def run(code: str, *records, limits: JsLimits = FAST, entry_points=("transform",)):
    """Results (or JsError dicts) of each record through one Sandbox."""
    out = []
    with Sandbox(code, entry_points, limits) as box:
        for rec in records:
            try:
                out.append(box.call(rec))
            except JsError as exc:
                out.append(exc.to_dict())
    return out


def js_error(code: str, record=None, limits: JsLimits = FAST) -> JsError:
    with Sandbox(code, limits=limits) as box:
        with pytest.raises(JsError) as info:
            box.call(record if record is not None else {})
    return info.value


# -- values in and out ------------------------------------------------------------------------
def test_json_round_trip_of_awkward_values():
    rec = {"s": "héllo ✓ 😀", "nul": "a\x00b", "lone": "\ud800", "n": 1.5, "i": 2 ** 40,
           "b": True, "none": None, "list": [1, [2, {"x": "y"}]], "nan": float("nan")}
    [got] = run("function transform(d) { return d; }", rec)
    assert got == {**rec, "nan": None}


def test_non_json_input_types_are_converted():
    when = dt.datetime(2024, 5, 6, 7, 8, 9)
    [got] = run("function transform(d) { return d; }", {"when": when, "raw": b"\x01\x02"})
    assert got == {"when": "2024-05-06T07:08:09", "raw": "AQI="}


@pytest.mark.parametrize("expr,expected", [("null", None), ("false", False), ("0", 0),
                                            ("''", ""), ("[1, 'a']", [1, "a"])])
def test_falsy_and_non_object_json_results_are_returned(expr, expected):
    assert run(f"function transform(d) {{ return {expr}; }}", {}) == [expected]


def test_first_defined_entry_point_is_used():
    code = "function execute(d) { return {via: 'execute'}; }"
    with Sandbox(code, ("transform", "execute")) as box:
        assert box.entry_point == "execute"
        assert box.call({}) == {"via": "execute"}
    code2 = "var transform = function (d) { return {via: 'transform'}; }; function execute() {}"
    assert run(code2, {}, entry_points=("transform", "execute")) == [{"via": "transform"}]


# -- typed errors ---------------------------------------------------------------------------
def test_throw_reports_message_and_line():
    code = "function transform(d) {\n  var x = null;\n  return x.y;\n}"
    err = js_error(code)
    assert err.code == JS_ERROR
    assert err.message == "TypeError: cannot read property 'y' of null"
    assert err.line == 3
    assert err.to_dict() == {"code": JS_ERROR, "message": err.message, "line": 3}


def test_throw_from_helper_and_non_error_values():
    code = "function helper() {\n  throw new RangeError('bad ' + 1);\n}\nfunction transform(d) { return helper(); }"
    err = js_error(code)
    assert (err.code, err.message, err.line) == (JS_ERROR, "RangeError: bad 1", 2)
    err = js_error("function transform(d) { throw 'boom'; }")
    assert (err.code, err.message, err.line) == (JS_ERROR, "boom", None)


def test_throw_undefined_is_an_error_not_a_memory_failure():
    err = js_error("function transform(d) { throw d.missing; }")
    assert err.code == JS_ERROR
    assert "undefined" in err.message


def test_infinite_loop_times_out_near_the_limit_and_next_record_runs():
    code = "function transform(d) { if (d.spin) { while (true) {} } return {ok: d.i}; }"
    with Sandbox(code, limits=JsLimits(time_ms=100, memory_mb=8, stack_kb=256)) as box:
        started = time.perf_counter()
        with pytest.raises(JsError) as info:
            box.call({"spin": True})
        elapsed = time.perf_counter() - started
        assert info.value.code == JS_TIMEOUT
        assert info.value.line == 1
        assert 0.09 <= elapsed < 1.0
        assert box.call({"i": 2}) == {"ok": 2}


def test_time_limit_applies_per_record_not_per_chunk():
    # Each record burns ~60% of the limit: the sum over the chunk is far above it.
    code = ("function transform(d) { var t = Date.now(); while (Date.now() - t < 60) {} "
            "return {i: d.i}; }")
    got = run(code, *({"i": i} for i in range(5)), limits=JsLimits(time_ms=100, memory_mb=8, stack_kb=256))
    assert got == [{"i": i} for i in range(5)]


def test_a_timeout_cannot_be_caught_by_user_code():
    code = "function transform(d) { try { while (true) {} } catch (e) { return {caught: 1}; } }"
    assert js_error(code).code == JS_TIMEOUT


BOMB = ("function transform(d) {\n  if (d.bomb) { var a = []; while (true) a.push('x'.repeat(512) + a.length); }\n"
        "  return {ok: d.i};\n}")


def test_memory_bomb_is_js_memory_and_the_next_record_gets_a_fresh_context():
    with Sandbox(BOMB, limits=FAST) as box:
        assert box.call({"i": 1}) == {"ok": 1}
        with pytest.raises(JsError) as info:
            box.call({"bomb": True})
        assert info.value.code == JS_MEMORY
        assert info.value.fatal
        assert box.call({"i": 2}) == {"ok": 2}
        assert box.stats.contexts == 2
        assert box.stats.failures == {JS_MEMORY: 1}


def test_process_survives_twenty_memory_bombs():
    with Sandbox(BOMB, limits=FAST) as box:
        for i in range(20):
            with pytest.raises(JsError) as info:
                box.call({"bomb": True})
            assert info.value.code == JS_MEMORY
            assert box.call({"i": i}) == {"ok": i}
    assert box.stats.failures == {JS_MEMORY: 20}


def test_caught_out_of_memory_does_not_corrupt_later_records():
    code = """
    function transform(d) {
      if (d.bomb) {
        try { var a = []; while (true) a.push(JSON.parse('{"a":[1,2,3]}')); }
        catch (e) { a = null; return {caught: true}; }
      }
      return {t: typeof JSON + typeof Math, k: Object.keys({a: 1, b: 2}).join(),
              w: "a b c".split(" ").map(function (w) { return w.toUpperCase(); }).join(""),
              r: /b(.)/.exec("abc")[1], n: new Set([1, 1, 2]).size};
    }"""
    with Sandbox(code, limits=FAST) as box:
        ref = box.call({})
        for _ in range(3):
            try:
                box.call({"bomb": True})
            except JsError as exc:
                assert exc.code in (JS_MEMORY, JS_ERROR)
            assert box.call({}) == ref
    assert ref == {"t": "objectobject", "k": "a,b", "w": "ABC", "r": "c", "n": 2}


def test_deep_recursion_is_js_stack_and_next_record_runs():
    code = "function r(n) { return r(n + 1) + 1; }\nfunction transform(d) { return d.deep ? r(0) : {ok: 1}; }"
    with Sandbox(code, limits=FAST) as box:
        with pytest.raises(JsError) as info:
            box.call({"deep": True})
        assert info.value.code == JS_STACK
        assert info.value.line == 1
        assert box.call({}) == {"ok": 1}


def test_deeply_nested_output_is_js_stack_or_output():
    code = "function transform(d) { var o = {}; for (var i = 0; i < 100000; i++) o = {o: o}; return o; }"
    assert js_error(code, limits=JsLimits(time_ms=1000, memory_mb=32, stack_kb=256)).code in (JS_STACK, JS_OUTPUT)


@pytest.mark.parametrize("body,fragment", [
    ("", "returned undefined"),
    ("return function () {};", "returned a function"),
    ("return Symbol('s');", "returned a symbol"),
    ("return 10n;", "returned a bigint"),
    ("return {n: 10n};", "not JSON-serialisable"),
    ("var a = {}; a.self = a; return a;", "circular"),
    ("return {toJSON: function () { return undefined; }};", "returned undefined"),
])
def test_non_json_results_are_js_output(body, fragment):
    err = js_error(f"function transform(d) {{ {body} }}")
    assert err.code == JS_OUTPUT
    assert fragment in err.message


def test_async_transform_is_js_output():
    err = js_error("async function transform(d) { return d; }")
    assert err.code == JS_OUTPUT and "Promise" in err.message


def test_oversized_output_is_js_output():
    with Sandbox("function transform(d) { return {s: 'x'.repeat(5000)}; }",
                 max_output_chars=1000) as box:
        with pytest.raises(JsError) as info:
            box.call({})
    assert info.value.code == JS_OUTPUT


# -- syntax checking --------------------------------------------------------------------------
def test_syntax_error_has_path_line_and_column():
    code = "var a = 1;\n\nfunction transform(d) { return d.x + ; }"
    with pytest.raises(ValidationFailed) as info:
        check_syntax(code, ("transform",), PATH)
    exc = info.value
    assert exc.code == JS_SYNTAX
    [detail] = exc.details
    assert detail["path"] == PATH
    assert (detail["line"], detail["column"]) == (3, 38)
    assert detail["message"].startswith("SyntaxError: ")
    assert detail["message"].endswith("at line 3, column 38")


def test_syntax_error_column_on_first_line_is_relative_to_user_code():
    with pytest.raises(ValidationFailed) as info:
        check_syntax('var s = "abc', ("transform",), PATH)
    assert (info.value.details[0]["line"], info.value.details[0]["column"]) == (1, 9)


def test_unclosed_block_points_at_end_of_code():
    with pytest.raises(ValidationFailed) as info:
        check_syntax("function transform(d) {\n  return d;", ("transform",), PATH)
    assert info.value.details[0]["line"] == 2


def test_missing_entry_point_names_the_accepted_ones():
    with pytest.raises(ValidationFailed) as info:
        check_syntax("function foo() {}", ("transform", "execute"), PATH)
    assert info.value.code == JS_SYNTAX
    assert "transform or execute" in info.value.details[0]["message"]
    with pytest.raises(JsError) as err:
        Sandbox("var transform = 3;")
    assert err.value.code == JS_SYNTAX


def test_code_that_escapes_the_wrapper_is_rejected_without_running():
    code = "}); throw new Error('ran'); (function () {"
    with pytest.raises(ValidationFailed) as info:
        check_syntax(code, ("transform",), PATH)
    assert info.value.code == JS_SYNTAX


@pytest.mark.parametrize("code", [None, "", "   ", 42])
def test_code_must_be_a_non_empty_string(code):
    with pytest.raises(ValidationFailed) as info:
        check_syntax(code, ("transform",), PATH)
    assert info.value.details[0]["path"] == PATH


def test_top_level_code_runs_under_limits_while_checking():
    started = time.perf_counter()
    with pytest.raises(ValidationFailed) as info:
        check_syntax("while (true) {}\nfunction transform(d) { return d; }", ("transform",), PATH,
                     JsLimits(time_ms=100, memory_mb=8, stack_kb=256))
    assert info.value.code == JS_TIMEOUT
    assert time.perf_counter() - started < 2
    with pytest.raises(ValidationFailed) as info:
        check_syntax("undefinedThing.x;\nfunction transform(d) {}", ("transform",), PATH)
    assert info.value.code == JS_ERROR and info.value.details[0]["line"] == 1


def test_strict_mode_syntax_errors_are_found():
    with pytest.raises(ValidationFailed) as info:
        check_syntax("'use strict';\nwith (Math) {}\nfunction transform(d) {}", ("transform",), PATH)
    assert info.value.details[0]["line"] == 2


# -- isolation between records ----------------------------------------------------------------
LEAKS = {
    "top-level var": ("var seen = [];", "seen.push(1);", "seen.length"),
    "top-level let (strict)": ("'use strict'; let count = 0;", "count++;", "count"),
    "closure state": ("var next = (function () { var n = 0; return function () { return ++n; }; })();",
                      "next(); next();", "next()"),
    "globalThis property": ("", "globalThis.leak = 1;", "typeof globalThis.leak"),
    "implicit global": ("", "leak2 = 1;", "typeof leak2"),
    "defineProperty on global": ("", "Object.defineProperty(globalThis, 'leak3', {value: 1});",
                                 "typeof leak3"),
    "indirect eval var": ("", "(0, eval)('var leak4 = 1');", "typeof leak4"),
    "Function constructor": ("", "Function('leak5 = 1')();", "typeof leak5"),
    "Object.prototype": ("", "Object.prototype.polluted = 1;", "typeof ({}).polluted"),
    "Array.prototype.push": ("", "Array.prototype.push = function () { return 42; };", "[].push(1)"),
    "JSON.stringify": ("", "JSON.stringify = function () { return '{\"x\":1}'; };", "JSON.stringify({})"),
    "Math.random": ("", "Math.random = function () { return 7; };", "Math.random() === 7"),
    "String.prototype": ("", "String.prototype.trim = function () { return 'p'; };", "' a '.trim()"),
    "__proto__ of prototype": ("", "Object.setPrototypeOf(Array.prototype, {x: 1});", "typeof [].x"),
    "factory function": ("", "__sluice_main.leak = 1;", "typeof __sluice_main.leak"),
    # strict mode refuses arguments.callee; the factory is also reachable by name (frozen)
    "arguments.callee": ("var main; try { main = arguments.callee; } catch (e) { main = __sluice_main; }",
                         "main.leak = 1;", "typeof main.leak"),
    "factory prototype": ("", "__sluice_main.prototype.leak = 1;", "typeof __sluice_main.prototype.leak"),
    "Error.prepareStackTrace": ("", "Error.prepareStackTrace = function () { return 'p'; };",
                                "typeof Error.prepareStackTrace"),
    "generator prototype": ("", "Object.getPrototypeOf(function* () {}).leak = 1;",
                            "typeof Object.getPrototypeOf(function* () {}).leak"),
    "iterator prototype": ("", "Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())).leak = 1;",
                           "typeof [][Symbol.iterator]().leak"),
    "promise job": ("", "Promise.resolve().then(function () { globalThis.leak7 = 1; });",
                    "typeof leak7"),
    "Error.stackTraceLimit": ("", "Error.stackTraceLimit = 0;", "Error.stackTraceLimit"),
    "Error.prototype.stack": ("", "Error.prototype.stack = 'x';", "String(Error.prototype.stack)"),
    "Iterator.prototype.constructor": ("", "Iterator.prototype.constructor = 5;",
                                       "typeof Iterator.prototype.constructor"),
    "override accessor on prototype": ("", "Object.prototype.toString = function () { return 'p'; };",
                                       "String({})"),
    "performance.now origin": ("", "var t = Date.now(); while (Date.now() - t < 30) {}",
                               "performance.now() < 20"),
}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_a_record_cannot_influence_the_next_one(name):
    top, attempt, read = LEAKS[name]
    code = (f"{top}\nfunction transform(d) {{\n  if (d.write) {{ try {{ {attempt} }} catch (e) {{}} }}\n"
            f"  return {{v: {read}}};\n}}")
    fresh = run(code, {})[0]
    got = run(code, {"write": True}, {}, {"write": True}, {})
    assert got[1] == fresh and got[3] == fresh, got


def test_the_leak_example_of_the_brief():
    code = "var seen = []; function transform(d) { seen.push(d); return {n: seen.length}; }"
    assert run(code, {"a": 1}, {"a": 2}, {"a": 3}) == [{"n": 1}] * 3


def test_writes_to_shared_objects_throw_naming_what_is_frozen():
    """User code runs in strict mode, so a write to a frozen global is an error the user
    sees, not a silently dropped assignment."""
    err = js_error("function transform(d) { Object.prototype.x = 1; return {}; }")
    assert err.code == JS_ERROR and err.message.startswith("TypeError") and "frozen" in err.message
    for code, name in (("count = 1; function transform(d) { return {}; }", "undeclared global 'count'"),
                       ("function transform(d) {\n  total += d.n; return {}; }", "undeclared global 'total'"),
                       ("function transform(d) { globalThis.count = 1; return {}; }", "global 'count'"),
                       ("function transform(d) { globalThis['k'] = 1; return {}; }", "global 'k'"),
                       ("function transform(d) { Math.PI = 3; return {}; }", "frozen 'PI'")):
        with pytest.raises(JsError) as info:      # at load (the top level runs once) or at the call
            with Sandbox(code, limits=FAST) as box:
                box.call({})
        err = info.value
        assert err.code == JS_ERROR and name in err.message and "strict mode" in err.message, (code, err.message)
    # reading an undeclared name stays the plain ReferenceError
    assert js_error("function transform(d) { return {v: nothere}; }").message == \
        "ReferenceError: nothere is not defined"
    # state in declared variables works, and is fresh for every record
    assert run("let n = 0; function transform(d) { n += 1; return {n: n}; }", {}, {}) == [{"n": 1}] * 2


def test_everything_reachable_from_the_global_object_is_frozen():
    code = """
    function transform(d) {
      var seen = new Set(), todo = [[globalThis, "globalThis"]], open = [];
      while (todo.length) {
        var item = todo.pop(), o = item[0];
        if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
        seen.add(o);
        if (!Object.isFrozen(o)) open.push(item[1]);
        Reflect.ownKeys(o).forEach(function (k) {
          var desc = Object.getOwnPropertyDescriptor(o, k);
          [desc.value, desc.get, desc.set].forEach(function (v) { todo.push([v, item[1] + "." + String(k)]); });
        });
        todo.push([Object.getPrototypeOf(o), item[1] + ".__proto__"]);
      }
      return {open: open, count: seen.size};
    }"""
    [got] = run(code, {}, limits=JsLimits(time_ms=1000, memory_mb=32, stack_kb=256))
    assert got["open"] == []
    assert got["count"] > 500


def test_only_reviewed_setters_remain_on_builtins():
    # A setter on a frozen built-in can still write hidden state (quickjs-ng's
    # Error.prepareStackTrace / stackTraceLimit did: they are turned into data properties).
    # Every setter left must only ever write to its receiver; a new one fails this test.
    code = """
    function transform(d) {
      var seen = new Set(), todo = [globalThis], names = {};
      while (todo.length) {
        var o = todo.pop();
        if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
        seen.add(o);
        Reflect.ownKeys(o).forEach(function (k) {
          var desc = Object.getOwnPropertyDescriptor(o, k);
          if (desc.set) names[desc.set.name + " <- " + String(k)] = 1;
          todo.push(desc.value, desc.get, desc.set);
        });
        todo.push(Object.getPrototypeOf(o));
      }
      return Object.keys(names).sort();
    }"""
    [names] = run(code, {}, limits=JsLimits(time_ms=1000, memory_mb=32, stack_kb=256))
    overridable = {f"set __sluice_acc <- {n}" for n in (
        "constructor", "hasOwnProperty", "message", "name", "toLocaleString", "toString",
        "valueOf")}
    assert set(names) == overridable | {
        " <- arguments", " <- caller",                 # %ThrowTypeError%
        " <- constructor",                             # Iterator.prototype (writes receiver)
        "set [Symbol.toStringTag] <- Symbol(Symbol.toStringTag)",   # Iterator.prototype
        "set __proto__ <- __proto__",                  # receiver's prototype
        "set stack <- stack",                          # Error.prototype.stack (receiver)
    }


def test_math_random_and_performance_now_work_per_record():
    code = "function transform(d) { var r = [Math.random(), Math.random(), Math.random()]; return {r: r, t: performance.now()}; }"
    a, b = run(code, {}, {})
    for got in (a, b):
        assert all(0 <= x < 1 for x in got["r"]) and len(set(got["r"])) == 3
        assert 0 <= got["t"] < 50
    assert a["r"] != b["r"]


def test_overriding_inherited_builtins_on_own_objects_still_works():
    code = """
    function Money(v) { this.v = v; }
    Money.prototype.toString = function () { return this.v + " EUR"; };
    function MyError(m) { this.message = m; }
    MyError.prototype = Object.create(Error.prototype);
    MyError.prototype.constructor = MyError;
    MyError.prototype.name = "MyError";
    function transform(d) {
      var o = {};
      o.toString = function () { return "custom"; };
      return {money: String(new Money(3)), o: String(o), err: String(new MyError("x")),
              plain: String({})};
    }"""
    assert run(code, {}, {}) == [{"money": "3 EUR", "o": "custom", "err": "MyError: x",
                                  "plain": "[object Object]"}] * 2


def test_pooled_context_is_reused_and_still_isolated_across_chunks():
    code = "var seen = []; function transform(d) { seen.push(1); try { Object.prototype.z = 1; } catch (e) {} return {n: seen.length, z: typeof ({}).z}; }"
    with Sandbox(code, limits=FAST) as first:
        assert first.stats.contexts == 1
        assert first.call({}) == {"n": 1, "z": "undefined"}
    with Sandbox(code, limits=FAST) as second:
        assert second.stats.contexts == 0          # taken from this thread's pool
        assert second.call({}) == {"n": 1, "z": "undefined"}


def test_runaway_promise_jobs_do_not_hang_or_leak():
    code = "function transform(d) { if (d.spawn) { (function f() { Promise.resolve().then(f); })(); } return {ok: 1}; }"
    with Sandbox(code, limits=FAST) as box:
        assert box.call({"spawn": True}) == {"ok": 1}
        assert box.call({}) == {"ok": 1}
        assert box.stats.contexts == 2             # the context with endless jobs was dropped


def test_a_sandbox_belongs_to_its_thread():
    box = Sandbox("function transform(d) { return d; }")
    errors = []

    def other():
        try:
            box.call({})
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errors and "thread" in errors[0]
    box.close()
    with pytest.raises(RuntimeError):
        box.call({})


def test_sandboxes_in_several_threads_run_independently():
    results: dict[int, list] = {}

    def work(n: int) -> None:
        with Sandbox("var k = 0; function transform(d) { k++; return {n: d.n * 2, k: k}; }") as box:
            results[n] = [box.call({"n": n}) for _ in range(50)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: [{"n": n * 2, "k": 1}] * 50 for n in range(4)}


# -- limits -----------------------------------------------------------------------------------
SETTINGS = Settings(js_time_limit_ms=500, js_memory_limit_mb=32, js_stack_limit_kb=256)


def test_capped_fills_missing_values_with_caps_and_clamps_values_above_them():
    assert JsLimits.capped(None, SETTINGS) == JsLimits(500, 32, 256)
    assert JsLimits.capped({"time_ms": 100}, SETTINGS) == JsLimits(100, 32, 256)
    assert JsLimits.capped({"time_ms": 9999, "memory_mb": 1, "stack_kb": 9999}, SETTINGS) == \
        JsLimits(500, 1, 256)


@pytest.mark.parametrize("raw,bad_path", [
    ({"time_ms": 0}, "p.limits.time_ms"),
    ({"time_ms": -5}, "p.limits.time_ms"),
    ({"memory_mb": 1.5}, "p.limits.memory_mb"),
    ({"stack_kb": True}, "p.limits.stack_kb"),
    ({"stack_kb": "64"}, "p.limits.stack_kb"),
    ({"cpu": 1}, "p.limits.cpu"),
    ([1], "p.limits"),
])
def test_malformed_limits_are_refused_with_a_path(raw, bad_path):
    details = validate_limits(raw, "p.limits", SETTINGS)
    assert [d["path"] for d in details] == [bad_path]
    with pytest.raises(ValidationFailed) as info:
        JsLimits.capped(raw, SETTINGS, "p.limits")
    assert info.value.details[0]["path"] == bad_path


def test_validate_limits_refuses_values_above_the_server_caps():
    details = validate_limits({"time_ms": 501, "memory_mb": 32, "stack_kb": 257}, "x.limits", SETTINGS)
    assert details == [
        {"path": "x.limits.time_ms", "message": "must be at most 500 ms (server cap)"},
        {"path": "x.limits.stack_kb", "message": "must be at most 256 KB (server cap)"},
    ]
    assert validate_limits(None, "x.limits", SETTINGS) == []
    assert validate_limits({"time_ms": 500}, "x.limits", SETTINGS) == []


def test_js_limits_must_be_positive_integers():
    with pytest.raises(ValueError):
        JsLimits(time_ms=0)
    assert JsLimits.from_settings(SETTINGS).to_dict() == {"time_ms": 500, "memory_mb": 32, "stack_kb": 256}


def test_validate_limits_refuses_values_below_the_minimums():
    details = validate_limits({"stack_kb": 16}, "x.limits", SETTINGS)
    assert details == [{"path": "x.limits.stack_kb", "message": "must be at least 32 KB"}]


def test_tiny_stack_gives_typed_errors_not_bogus_syntax_errors():
    # QuickJS's parser reports bogus SyntaxErrors when it runs out of stack; compiling always
    # gets enough stack, calls get the user's limit.
    code = "function transform(d) { return {a: [[[[d.a]]]]}; }"
    assert run(code, {"a": 1}, limits=JsLimits(time_ms=100, memory_mb=8, stack_kb=8)) == [{"a": [[[[1]]]]}]
    with pytest.raises(JsError) as info:
        Sandbox(code, limits=JsLimits(time_ms=100, memory_mb=8, stack_kb=1), pooled=False)
    assert info.value.code == JS_STACK
    with Sandbox(code, limits=JsLimits(time_ms=100, memory_mb=8, stack_kb=1)) as pooled:
        with pytest.raises(JsError) as info:     # a pooled context gets the new limit too
            pooled.call({"a": 1})
    assert info.value.code == JS_STACK


def test_long_results_and_messages_cross_the_boundary():
    # quickjs-ng's binding cannot return "rope" strings; the runner flattens its results.
    code = "function transform(d) { if (d.fail) throw new Error('x'.repeat(10000)); return {s: 'y'.repeat(100000)}; }"
    with Sandbox(code) as box:
        assert len(box.call({})["s"]) == 100000
        with pytest.raises(JsError) as info:
            box.call({"fail": True})
    assert info.value.message == "Error: " + "x" * 10000


def test_importing_the_sandbox_starts_no_thread():
    # `import quickjs` starts quickjs.Function's executor thread; the sandbox uses the C
    # module directly so prefork workers fork a single-threaded parent.
    import os
    import pathlib
    import subprocess
    import sys

    root = str(pathlib.Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    code = ("import threading, shared.jsbox, shared.extractors as e; e.list_extractors(); "
            "from shared.jsbox import Sandbox; Sandbox('function transform(d) { return d; }').call({}); "
            "print(threading.active_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root, env=env)
    assert out.stdout.strip() == "1"
