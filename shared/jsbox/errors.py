"""Typed errors of the JavaScript sandbox, and how QuickJS failures map onto them."""
from __future__ import annotations

import json
import re
from typing import Any

from shared.jsbox import prelude
from shared.errors import UserError

JS_SYNTAX = "JS_SYNTAX"    # the code does not compile, or defines no entry point
JS_ERROR = "JS_ERROR"      # the code threw
JS_TIMEOUT = "JS_TIMEOUT"  # CPU time over the per-record limit
JS_MEMORY = "JS_MEMORY"    # heap over the memory limit (the context is replaced afterwards)
JS_STACK = "JS_STACK"      # stack overflow / recursion too deep
JS_OUTPUT = "JS_OUTPUT"    # the result is not JSON data (undefined, function, cycle, too big...)

JS_CODES = frozenset({JS_SYNTAX, JS_ERROR, JS_TIMEOUT, JS_MEMORY, JS_STACK, JS_OUTPUT})

_FIRST_LINE_RE = re.compile(r"^[^\n]*")
NOT_SELF_CONTAINED = ("SyntaxError: the code is not self-contained: it closes a block or "
                      "function it did not open")


class JsError(UserError):
    """A failure of user JavaScript. `line` refers to the user's code (1-based) when known."""

    def __init__(self, code: str, message: str, line: int | None = None,
                 column: int | None = None):
        if code not in JS_CODES:
            raise ValueError(f"unknown JsError code {code!r}")
        super().__init__(f"{code}: {message}" + (f" (line {line})" if line else ""))
        self.code = code
        self.message = message
        self.line = line
        self.column = column

    @property
    def fatal(self) -> bool:
        """True when the context can no longer be trusted and must be replaced."""
        return self.code == JS_MEMORY

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "message": self.message, "line": self.line}
        if self.column is not None:
            d["column"] = self.column
        return d


def first_line(text: str) -> str:
    return _FIRST_LINE_RE.match(text).group(0)  # type: ignore[union-attr]


def stack_error(stack_kb: int, line: int | None = None) -> JsError:
    return JsError(JS_STACK, f"RangeError: Maximum call stack size exceeded (limit {stack_kb} KB)",
                   line)


def memory_error(memory_mb: int, line: int | None = None) -> JsError:
    return JsError(JS_MEMORY, f"InternalError: out of memory (limit {memory_mb} MB)", line)


def timeout_error(time_ms: int, line: int | None = None) -> JsError:
    return JsError(JS_TIMEOUT, f"exceeded the time limit of {time_ms} ms (CPU time)", line)


def escaped_error(text: str, limits: Any) -> JsError:
    """An exception that got past the runner's catch: a time-out (uncatchable in QuickJS), a
    stack overflow inside the runner, or a failure to even build the exception (out of memory;
    quickjs then reports "null", "[uninitialized]" or "(Failed obtaining ... error string)")."""
    first = first_line(text)
    line = prelude.user_line(text)
    if "interrupted" in first:
        return timeout_error(limits.time_ms, line)
    if "call stack" in first or "stack overflow" in first:
        return stack_error(limits.stack_kb, line)
    return memory_error(limits.memory_mb, line)


_THROW_RE = re.compile(r"\bthrow\b")


def thrown_error(payload: str, limits: Any, code: str) -> JsError:
    """What the user's code threw, as reported by the runner (`X{kind, message, stack}`).

    kind "null": QuickJS throws `null` when it cannot even allocate the error object of an
    out-of-memory condition (quickjs.c, JS_ThrowError2), which JavaScript cannot tell from
    `throw null`. It is reported as JS_MEMORY (and the context replaced); when the code
    contains a `throw` statement the message says it may also be an explicit `throw null`."""
    info = json.loads(payload)
    line = prelude.user_line(info.get("stack") or "")
    kind = info.get("kind")
    if kind == "memory":
        return memory_error(limits.memory_mb, line)
    if kind == "stack":
        return stack_error(limits.stack_kb, line)
    if kind == "null":
        err = memory_error(limits.memory_mb)
        if _THROW_RE.search(code):
            err.message += ", or the code threw null"
        return err
    return JsError(JS_ERROR, info.get("message") or "uncaught exception", line)


def compile_error(text: str, code: str, *, prefix_len: int = len(prelude.WRAP_PREFIX)) -> JsError:
    """A SyntaxError of the compiled code, with line/column relative to the user's code.

    `prefix_len` is the length of what was put before the code on line 1."""
    first = first_line(text)
    if not first.startswith("SyntaxError"):
        return JsError(JS_SYNTAX, NOT_SELF_CONTAINED)
    m = prelude.SYNTAX_POS_RE.search(text)
    if not m:
        return JsError(JS_SYNTAX, first)
    line, col = int(m.group("line")), int(m.group("col"))
    if line == 1:
        col = max(1, col - prefix_len)
    lines = code.split("\n")
    if line > len(lines) or (line == len(lines) and col > len(lines[-1]) + 1):
        line, col = len(lines), len(lines[-1]) + 1      # inside our suffix: the end of the code
    return JsError(JS_SYNTAX, f"{first} at line {line}, column {col}", line, col)
