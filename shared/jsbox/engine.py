"""Hardened QuickJS contexts: create, load user code, call, and a small per-thread pool.

Creating and hardening a context costs a few milliseconds (deep-freezing ~600 built-in objects
dominates; a bare `quickjs.Context()` is ~0.3 ms). Since no record can change anything another
record sees, a context with a given piece of code loaded is as good as new after a chunk, so
`Sandbox` returns it to a per-thread pool keyed by (code, entry points) and the next chunk of
the same code starts in microseconds. Contexts are never shared between threads, never
survive a fork (the pool is dropped when the pid changes), and are thrown away after any
out-of-memory error.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

try:
    # The C extension itself: `import quickjs` would also start the thread pool of
    # quickjs.Function at import time (a thread that hangs after fork in prefork workers).
    import _quickjs as quickjs
except ImportError:  # pragma: no cover - other packagings of the binding
    import quickjs  # type: ignore[no-redef]

from shared.jsbox import prelude
from shared.jsbox.errors import (JS_ERROR, JS_SYNTAX, NOT_SELF_CONTAINED, JsError, compile_error,
                                 escaped_error, first_line, memory_error, stack_error,
                                 thrown_error)
from shared.jsbox.limits import JsLimits

POOL_SIZE = 8                 # idle loaded contexts kept per thread
SETUP_STACK_KB = 256          # stack while hardening and compiling: with very small stacks
                              # QuickJS's parser reports bogus SyntaxErrors
MAX_PENDING_JOBS = 1000       # promise jobs drained after a call before giving the context up
_BARE_PREFIX = "throw 0;"     # parse the code as a plain script without running any of it


class Loaded:
    """A hardened context with one piece of user code loaded."""

    __slots__ = ("key", "ctx", "runner", "entry_index", "broken")

    def __init__(self, key: tuple[str, tuple[str, ...]], ctx: Any, runner: Any):
        self.key = key
        self.ctx = ctx
        self.runner = runner
        self.entry_index = -1
        self.broken = False

    def configure(self, limits: JsLimits) -> None:
        self.ctx.set_time_limit(limits.time_ms / 1000.0)
        self.ctx.set_max_stack_size(limits.stack_kb * 1024)
        self.ctx.set_memory_limit(limits.memory_mb * 1024 * 1024)


def load(code: str, entry_points: tuple[str, ...], limits: JsLimits) -> Loaded:
    """New hardened context with `code` loaded; runs the code's top level once (entry lookup).

    Raises JsError: JS_SYNTAX (does not compile, is not self-contained, or defines no entry
    point) or whatever the top level itself fails with."""
    ctx = quickjs.Context()
    ctx.set_time_limit(limits.time_ms / 1000.0)
    ctx.set_max_stack_size(max(limits.stack_kb, SETUP_STACK_KB) * 1024)
    try:
        build = ctx.eval(prelude.HARDEN_JS)
    except quickjs.JSException as exc:    # never seen with sane limits
        raise JsError(JS_ERROR, f"the sandbox could not start: {first_line(str(exc))}") from None
    ctx.set_memory_limit(limits.memory_mb * 1024 * 1024)
    wrapped = prelude.wrap_user_code(code, entry_points)
    try:
        main = ctx.eval(wrapped)
    except quickjs.JSException as exc:
        raise syntax_error(code, str(exc), limits) from None
    runner = build(main, prelude.factory_text(wrapped))   # (invoke applies the user's stack limit)
    if isinstance(runner, str):           # the code closed our wrapper function early
        raise syntax_error(code, None, limits)
    loaded = Loaded((code, entry_points), ctx, runner)
    info = invoke(loaded, None, limits)
    if info == prelude.TAG_NO_ENTRY:
        raise JsError(JS_SYNTAX, "no entry point: the code must define a function named "
                      + " or ".join(entry_points))
    loaded.entry_index = int(info[1:])
    return loaded


def syntax_error(code: str, wrapped_text: str | None, limits: JsLimits) -> JsError:
    """Explain why the code failed to compile, relative to the user's own lines.

    The code is first parsed on its own as a script (`throw 0;` + code, so nothing of it runs),
    which gives the clearest message for unbalanced code; strict-mode-only errors are only
    seen by the wrapped compile and are reported from its text."""
    probe = quickjs.Context()
    probe.set_time_limit(limits.time_ms / 1000.0)
    probe.set_max_stack_size(max(limits.stack_kb, SETUP_STACK_KB) * 1024)
    probe.set_memory_limit(limits.memory_mb * 1024 * 1024)
    try:
        probe.eval(_BARE_PREFIX + code)
    except quickjs.JSException as exc:
        text = str(exc)
        head = first_line(text)
        if head.startswith("SyntaxError"):
            return compile_error(text, code, prefix_len=len(_BARE_PREFIX))
        if "call stack" in head or "stack overflow" in head:
            return JsError(JS_SYNTAX, "SyntaxError: the code is nested too deeply to compile")
    if wrapped_text is None:
        return JsError(JS_SYNTAX, NOT_SELF_CONTAINED)
    return compile_error(wrapped_text, code)


def invoke(loaded: Loaded, payload: str | None, limits: JsLimits, max_chars: int | None = None) -> str:
    """Call the runner once; returns its tagged result string or raises JsError. With
    `max_chars`, `payload` is a JSON array of records and the result a JSON array of
    per-record results (see prelude.py's runner).

    Sets `loaded.broken` when the context must not be used again."""
    ctx = loaded.ctx
    ctx.set_max_stack_size(limits.stack_kb * 1024)   # re-anchor to the current C stack depth
    try:
        result = loaded.runner(payload) if max_chars is None else loaded.runner(payload, max_chars)
    except quickjs.StackOverflow as exc:
        raise stack_error(limits.stack_kb, prelude.user_line(str(exc))) from None
    except quickjs.JSException as exc:
        err = escaped_error(str(exc), limits)
        loaded.broken = loaded.broken or err.fatal
        raise err from None
    finally:
        if not loaded.broken and not drain_jobs(ctx, limits):
            loaded.broken = True
    if not isinstance(result, str):
        loaded.broken = True
        raise memory_error(limits.memory_mb)
    if result[:1] == prelude.TAG_THROWN:
        err = thrown_error(result[1:], limits, loaded.key[0])
        loaded.broken = loaded.broken or err.fatal
        raise err
    return result


def drain_jobs(ctx: Any, limits: JsLimits) -> bool:
    """Run the promise jobs a call left behind; False when the context should be dropped.

    Jobs cannot affect other records (everything shared is frozen); they are run only so
    they do not pile up. Too many jobs, jobs over the time limit, or a job failing hard
    (time-out / out of memory escape as exceptions) make the context unusable."""
    try:
        if not ctx.execute_pending_job():
            return True
        budget = limits.time_ms / 1000.0
        started = time.process_time()
        for _ in range(MAX_PENDING_JOBS):
            if not ctx.execute_pending_job():
                return True
            if time.process_time() - started > budget:
                return False
    except quickjs.JSException:
        return False
    return False


# -- per-thread pool -------------------------------------------------------------------------
_local = threading.local()


def _pool() -> list[Loaded]:
    pid = os.getpid()
    if getattr(_local, "pid", None) != pid:   # new thread, or a forked child
        _local.pid = pid
        _local.items = []
    return _local.items


def take(key: tuple[str, tuple[str, ...]]) -> Loaded | None:
    items = _pool()
    for i in range(len(items) - 1, -1, -1):
        if items[i].key == key:
            return items.pop(i)
    return None


def give_back(loaded: Loaded) -> None:
    if loaded.broken:
        return
    items = _pool()
    items.append(loaded)
    if len(items) > POOL_SIZE:
        del items[0]


def clear_pool() -> None:
    """Drop this thread's idle contexts (tests, or to release memory)."""
    _pool().clear()


def pool_size() -> int:
    return len(_pool())
