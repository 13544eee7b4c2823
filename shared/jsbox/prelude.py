"""JavaScript source evaluated inside every sandbox context, and the user-code wrapper.

Isolation design (summarised in `shared/jsbox/__init__.py`):

1. HARDEN_JS runs first in a fresh context. It makes a handful of inherited built-in data
   properties overridable on *derived* objects (the "override mistake": with a frozen
   `Object.prototype`, `obj.toString = f` would otherwise fail), then deep-freezes every object
   reachable from `globalThis` plus the intrinsics that are only reachable through syntax
   (generator/async function prototypes, iterator prototypes, %TypedArray%, %ThrowTypeError%).
   Freezing also materialises QuickJS's lazily-initialised globals, which otherwise become
   `undefined` when their first use happens during an out-of-memory condition.
2. The user's code becomes the body of a function `__sluice_main` (the "factory") that ends by
   returning its entry-point functions. The factory is re-run for **every record**, so top-level
   `var`/`let`/closure state is fresh per record, and everything shared (built-ins, the global
   object) is frozen. Nothing a record does can be seen by the next record.
3. The factory's source text is compared with the expected wrapper text, so code that closes
   the wrapper early (`}); let leak = []; (function(){`) is rejected instead of running at the
   script level.
4. The runner catches everything the user code throws and reports it as a tagged string; only
   uncatchable interrupts (time limit) or a failure inside the runner itself (out of memory)
   escape to Python.
"""
from __future__ import annotations

import re

MAIN_NAME = "__sluice_main"
# Strict mode: with a frozen global object, sloppy-mode assignments to globals were silently
# dropped (`count = 1` left `count` undefined); strict mode makes them throw.
WRAP_PREFIX = f"(function {MAIN_NAME}(){{\"use strict\";"
IDENT_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")

# The runner returns either JSON text (which never starts with an upper-case letter) or one
# of these tags followed by a body. quickjs-ng 0.17's Python binding cannot return "rope"
# strings (long results of `+`: TypeError "Unknown quickjs tag: -6"), so the runner builds
# its results with String.prototype.concat, which returns flat strings.
TAG_UNDEFINED = "U"   # the entry point returned undefined (or toJSON gave undefined)
TAG_BADTYPE = "T"     # T<typeof> : function / symbol / bigint / promise
TAG_SERIALISE = "S"   # S<message> : JSON.stringify threw (cycle, BigInt inside, ...)
TAG_THROWN = "X"      # X<json {kind, message, stack}> : user code threw
TAG_NO_ENTRY = "N"    # no entry point defined by this run of the code
TAG_INFO = "I"        # I<index> : answer to the setup call runner(null)


def wrap_user_code(code: str, entry_points: tuple[str, ...]) -> str:
    """The factory source. User line numbers are unchanged (the prefix shares line 1)."""
    picks = ", ".join(f'(typeof {n} === "function" ? {n} : void 0)' for n in entry_points)
    return f"{WRAP_PREFIX}{code}\n;return [{picks}];\n}})"


def factory_text(wrapped: str) -> str:
    """What Function.prototype.toString must return for an intact factory."""
    return wrapped[1:-1]


HARDEN_JS = r"""
(function () {
  "use strict";
  var O = Object, R = Reflect;
  var freeze = O.freeze, gopd = O.getOwnPropertyDescriptor, defineProperty = O.defineProperty;
  var getProto = O.getPrototypeOf, ownKeys = R.ownKeys, apply = R.apply;
  var parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray;
  var fnToString = Function.prototype.toString;
  var StringCtor = String, PromiseCtor = Promise, ErrorCtor = Error;
  var InternalErrorCtor = typeof InternalError === "function" ? InternalError : ErrorCtor;
  var RangeErrorCtor = RangeError, TypeErrorCtor = TypeError;

  // --- 0. context-level state that frozen objects would not protect ------------------------
  // Error.prepareStackTrace / Error.stackTraceLimit are accessors whose setters write fields
  // of the QuickJS context: turn them into read-only data properties.
  ["prepareStackTrace", "stackTraceLimit"].forEach(function (name) {
    var d = gopd(ErrorCtor, name);
    if (d && d.get) {
      defineProperty(ErrorCtor, name, { value: apply(d.get, ErrorCtor, []), writable: false,
                                        enumerable: d.enumerable, configurable: false });
    }
  });
  // Math.random: the native generator's state lives in the context, so how often one record
  // calls it would shift what the next one sees. Records get their own generator (sfc32),
  // seeded from the native one the first time a record asks for a number.
  var nativeRandom = Math.random, rs = [0, 0, 0, 0], rsSeeded = false;
  function sfc32() {
    var a = rs[0], b = rs[1], c = rs[2], d = rs[3];
    var t = (((a + b) | 0) + d) | 0;
    rs[3] = (d + 1) | 0;
    rs[0] = b ^ (b >>> 9);
    rs[1] = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    rs[2] = (c + t) | 0;
    return t >>> 0;
  }
  var random = {
    random() {
      if (!rsSeeded) {
        for (var i = 0; i < 4; i++) rs[i] = (nativeRandom() * 4294967296) >>> 0;
        for (var j = 0; j < 12; j++) sfc32();
        rsSeeded = true;
      }
      return ((sfc32() >>> 5) * 67108864 + (sfc32() >>> 6)) / 9007199254740992;
    }
  }.random;
  defineProperty(Math, "random", { value: random, writable: true, enumerable: false, configurable: true });
  // performance.now(): milliseconds since the record started, not since the context was
  // created (which would reveal how long earlier records ran). The native `performance.now`
  // is not configurable, so the global `performance` object is replaced.
  var perf = globalThis.performance, nativeNow = perf && perf.now, origin = 0;
  if (typeof nativeNow === "function") {
    var ownPerf = {
      now() { return apply(nativeNow, perf, []) - origin; },
      timeOrigin: perf.timeOrigin
    };
    defineProperty(globalThis, "performance", { value: ownPerf, writable: true, enumerable: true,
                                                configurable: true });
  }
  function resetRecordState() {
    rsSeeded = false;
    if (typeof nativeNow === "function") origin = apply(nativeNow, perf, []);
  }

  // --- 1. override-mistake enablements -------------------------------------------------
  // With a frozen Object.prototype, `obj.toString = f` or `MyError.prototype.name = "X"`
  // would fail, because an inherited read-only property blocks assignment. For the names user
  // code commonly assigns, the data property becomes an accessor whose setter defines an own
  // property on the receiver (the receiver is never shared, so this cannot leak). Accessors
  // are slower than data properties on hot paths (e.g. species lookups read `constructor`),
  // so only Object.prototype and the Error prototypes get them.
  function enableOverride(obj, name) {
    var d = gopd(obj, name);
    if (d === undefined || !("value" in d) || !d.configurable) return;
    var value = d.value;
    var acc = {
      get __sluice_acc() { return value; },
      set __sluice_acc(v) {
        if (this === obj) {
          throw new TypeErrorCtor("Cannot assign to read only property '" + name + "' of a frozen built-in");
        }
        if ((typeof this !== "object" || this === null) && typeof this !== "function") return;
        defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
      }
    };
    var a = gopd(acc, "__sluice_acc");
    defineProperty(obj, name, { get: a.get, set: a.set, enumerable: d.enumerable, configurable: false });
  }
  ["constructor", "toString", "valueOf", "toLocaleString", "hasOwnProperty"].forEach(function (n) {
    enableOverride(Object.prototype, n);
  });
  ["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError",
   "AggregateError", "InternalError", "SuppressedError"].forEach(function (ctorName) {
    var ctor = globalThis[ctorName];
    if (typeof ctor !== "function") return;
    ["constructor", "name", "message", "toString"].forEach(function (n) { enableOverride(ctor.prototype, n); });
  });

  // --- 2. deep freeze ------------------------------------------------------------------------
  var hidden = [];
  function add(f) { try { var v = f(); if (v) hidden.push(v); } catch (e) { /* absent feature */ } }
  add(function () { return getProto(function* () {}); });
  add(function () { return getProto(async function () {}); });
  add(function () { return getProto(async function* () {}); });
  add(function () { return getProto((function* () {})()); });
  add(function () { return getProto((async function* () {})()); });
  add(function () { return getProto([][Symbol.iterator]()); });
  add(function () { return getProto(new Map()[Symbol.iterator]()); });
  add(function () { return getProto(new Set()[Symbol.iterator]()); });
  add(function () { return getProto(""[Symbol.iterator]()); });
  add(function () { return getProto(/a/[Symbol.matchAll]("")); });
  add(function () { return getProto(Int8Array); });
  add(function () { return gopd((function () { "use strict"; return arguments; })(), "callee").get; });
  add(function () { return getProto([].values().map(function (x) { return x; })); });
  add(function () { return getProto(Iterator.from({ next: function () { return { done: true }; } })); });
  add(function () { return getProto(new Map().entries()); });

  var seen = new Set();
  var todo = [globalThis].concat(hidden);
  while (todo.length) {
    var o = todo.pop();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    var keys = ownKeys(o);
    for (var i = 0; i < keys.length; i++) {
      var d = gopd(o, keys[i]);          // also materialises lazily-initialised properties
      if (d === undefined) continue;
      if ("value" in d) todo.push(d.value); else { todo.push(d.get); todo.push(d.set); }
    }
    todo.push(getProto(o));
    freeze(o);
  }
  seen = null; todo = null;

  // --- 3. the runner ------------------------------------------------------------------------
  // Helpers that can be on the stack while user code runs are named __sluice_* so that
  // `user_line` skips their frames when it looks for the user's line.
  var strConcat = String.prototype.concat, charCodeAt = String.prototype.charCodeAt;
  var join = Array.prototype.join, ArrayCtor = Array;
  function __sluice_tagged(tag, body) { return apply(strConcat, tag, [body]); }
  function __sluice_kind(e) {
    if (e instanceof InternalErrorCtor && /out of memory|string too long/.test(e.message)) return "memory";
    if (e instanceof RangeErrorCtor && /call stack|stack overflow/i.test(e.message)) return "stack";
    if (e instanceof InternalErrorCtor && /stack overflow/.test(e.message)) return "stack";
    return "error";
  }
  function __sluice_describe(e) {
    // QuickJS throws null when it cannot even allocate the error object of an out-of-memory
    // condition; `throw null` looks the same (see errors.thrown_error).
    if (e === null) return stringify({ kind: "null", message: "null", stack: "" });
    var message, stack = "";
    try {
      message = StringCtor(e);
    } catch (e2) {
      message = "uncaught exception (" + (e === null ? "null" : typeof e) + ")";
    }
    try {
      if (e instanceof ErrorCtor && typeof e.stack === "string") stack = e.stack;
    } catch (e3) { /* ignore */ }
    return stringify({ kind: __sluice_kind(e), message: message, stack: stack });
  }
  function __sluice_encode(out) {
    if (out === undefined) return "U";
    var t = typeof out;
    if (t === "function" || t === "symbol" || t === "bigint") return __sluice_tagged("T", t);
    if (out instanceof PromiseCtor) return "Tpromise";
    var s;
    try {
      s = stringify(out);
    } catch (e) {
      var k = __sluice_kind(e);
      if (k !== "error") throw e;
      return __sluice_tagged("S", StringCtor(e));
    }
    if (s === undefined) return "U";
    return s;
  }
  return function __sluice_build(main, expected) {
    if (typeof main !== "function" || apply(fnToString, main, []) !== expected) return "B";
    // The factory object itself is shared by all records (reachable as `__sluice_main` or
    // `arguments.callee`): freeze it and its prototype object too.
    var mainProto = main.prototype;
    freeze(main);
    if (mainProto) freeze(mainProto);
    function __sluice_pick(fns) {
      if (!isArray(fns)) return -1;
      for (var i = 0; i < fns.length; i++) if (typeof fns[i] === "function") return i;
      return -1;
    }
    // `mode` undefined: `input` is one record's JSON (null: the set-up call). PARSED: `input`
    // is a record already parsed by __sluice_many. A number: `input` is a JSON array of
    // records. A single record runs with no extra frame on the stack, so a call of its own
    // has the whole stack limit.
    var PARSED = {};
    function __sluice_run(input, mode) {
      if (mode !== undefined && mode !== PARSED) return __sluice_many(input, mode);
      var out;
      resetRecordState();
      try {
        var fns = main();
        var idx = __sluice_pick(fns);
        if (input === null && mode === undefined) return idx < 0 ? "N" : __sluice_tagged("I", StringCtor(idx));
        if (idx < 0) return "N";
        var entry = fns[idx];
        out = entry(mode === PARSED ? input : parse(input));
      } catch (e) {
        return __sluice_tagged("X", __sluice_describe(e));
      }
      return __sluice_encode(out);
    }
    // Many records in one call (a JSON array in, a JSON array out): each record runs exactly
    // as in a call of its own. Per record: [0, result] or [1, tagged string], or [1, "L"]
    // when its JSON is longer than maxChars (Python judges that record again on its own).
    function __sluice_many(input, maxChars) {
      var values = parse(input), n = values.length, parts = new ArrayCtor(n);
      for (var i = 0; i < n; i++) {
        var r = __sluice_run(values[i], PARSED);
        values[i] = undefined;
        var c = apply(charCodeAt, r, [0]);
        if (c >= 65 && c <= 90) parts[i] = __sluice_tagged("[1,", apply(strConcat, stringify(r), ["]"]));
        else if (r.length > maxChars) parts[i] = '[1,"L"]';
        else parts[i] = __sluice_tagged("[0,", apply(strConcat, r, ["]"]));
      }
      // Array.prototype.join builds a flat string; concat of a narrow and a wide string can
      // return a rope, which the binding cannot hand to Python.
      return apply(join, ["[", apply(join, parts, [","]), "]"], [""]);
    }
    return __sluice_run;
  };
})()
"""

STACK_FRAME_RE = re.compile(r"^\s*at (?P<fn>\S+) \(<input>:(?P<line>\d+):(?P<col>\d+)\)", re.M)
SYNTAX_POS_RE = re.compile(r"^\s*at <input>:(?P<line>\d+):(?P<col>\d+)", re.M)


def user_line(stack: str) -> int | None:
    """Line of the innermost frame that belongs to the user's code."""
    for m in STACK_FRAME_RE.finditer(stack or ""):
        fn = m.group("fn")
        if fn.startswith("__sluice_") and fn != MAIN_NAME:
            continue
        return int(m.group("line"))
    return None

