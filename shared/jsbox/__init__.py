"""QuickJS sandbox for user JavaScript (feature extractors, pipelines, streaming).

Public API:
    JsLimits, validate_limits        resource limits and their validation against server caps
    Sandbox                          one per chunk and thread; .call(record) per record
    check_syntax                     validation-time compile + entry-point check
    JsError and the JS_* codes       typed per-record failures
    clear_pool                       drop this thread's idle loaded contexts

How records are kept apart (details in prelude.py, tests in tests/unit/test_jsbox.py):
  * Before any user code runs, every object reachable from `globalThis` and the syntax-only
    intrinsics are deep-frozen; a few context-level knobs that freezing would not cover are
    neutralised (Error.prepareStackTrace/stackTraceLimit become read-only data, Math.random
    gets a per-record generator, performance.now() counts from the record's start).
  * The user's code is the body of a factory function that is re-run for every record, so
    top-level `var`/`let`/closures start fresh each time. The factory is strict-mode code,
    so writes to shared objects and to undeclared globals throw (JS_ERROR, the message names
    what is frozen: see errors.explain_frozen) instead of being silently dropped
    (`obj.toString = f` on your own objects keeps working).
  * Only JSON text crosses the boundary in both directions.
  Cost: one top-level run per record (a few microseconds for typical code; keep expensive
  set-up out of the top level or make it lazy inside the function), and ~5 ms to harden a
  new context, paid once per thread and code thanks to a small per-thread pool.
  Not closed: timing (Date.now) — bounded by the per-record CPU limit.

quickjs-ng facts this relies on (0.17): the time limit is CPU time (C clock(), whole
process) restarted at every call; after an out-of-memory error a context may be corrupt, so
it is dropped; the error object of an OOM may itself fail to allocate and `null` is thrown.
"""
from shared.jsbox.engine import clear_pool
from shared.jsbox.errors import (JS_CODES, JS_ERROR, JS_MEMORY, JS_OUTPUT, JS_STACK, JS_SYNTAX,
                                 JS_TIMEOUT, JsError)
from shared.jsbox.limits import JsLimits, validate_limits
from shared.jsbox.sandbox import Sandbox, SandboxStats, check_syntax

__all__ = [
    "JS_CODES", "JS_ERROR", "JS_MEMORY", "JS_OUTPUT", "JS_STACK", "JS_SYNTAX", "JS_TIMEOUT",
    "JsError", "JsLimits", "Sandbox", "SandboxStats", "check_syntax", "clear_pool",
    "validate_limits",
]
