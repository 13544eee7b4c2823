"""The QuickJS sandbox: one per chunk and thread, one call per record, nothing shared between records.

    with Sandbox(code, ("transform",), JsLimits(time_ms=200)) as box:
        for record in chunk:
            try:
                out = box.call(record)
            except JsError as exc:
                ...  # exc.code in JS_ERROR / JS_TIMEOUT / JS_MEMORY / JS_STACK / JS_OUTPUT

Isolation: built-ins and the global object are deep-frozen before the user's code is loaded, and
the user's code is the body of a factory function that is re-run for every record (see
`prelude.py`). Top-level state is therefore fresh for each record, and writes to anything shared
fail: user code runs in strict mode, so such a write is a JS_ERROR naming the frozen global,
never silently dropped. Only JSON crosses the boundary.

Never use `quickjs.Function` here (its executor thread hangs after fork in prefork workers); a
Sandbox belongs to the thread that created it.
"""
from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shared.errors import ValidationFailed
from shared.jsbox import engine, prelude
from shared.jsbox.errors import JS_ERROR, JS_OUTPUT, JS_SYNTAX, JsError
from shared.jsbox.limits import JsLimits

MAX_OUTPUT_CHARS = 16 * 1024 * 1024   # MongoDB's document size limit


@dataclass
class SandboxStats:
    records: int = 0                  # calls made
    failures: dict[str, int] = field(default_factory=dict)   # JsError code -> count
    contexts: int = 0                 # contexts created by this Sandbox (0 when reused from the pool)
    setup_seconds: float = 0.0        # wall time spent creating contexts and loading the code

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "failures": dict(self.failures),
                "contexts": self.contexts, "setup_seconds": round(self.setup_seconds, 6)}


class Sandbox:
    """Runs one piece of user code against many records, each in isolation.

    Construction loads the code (raises JsError: JS_SYNTAX, or the error of its top level).
    `pooled=True` reuses an idle context of this thread that has the same code loaded, and
    gives it back on close()."""

    def __init__(self, code: str, entry_points: tuple[str, ...] = ("transform",),
                 limits: JsLimits | None = None, *, pooled: bool = True,
                 max_output_chars: int = MAX_OUTPUT_CHARS):
        if not isinstance(code, str):
            raise TypeError("code must be a string")
        entry_points = tuple(entry_points)
        if not entry_points or not all(prelude.IDENT_RE.match(n) for n in entry_points):
            raise ValueError(f"entry_points must be JavaScript identifiers, got {entry_points!r}")
        self.code = code
        self.entry_points = entry_points
        self.limits = limits or JsLimits()
        self.pooled = pooled
        self.max_output_chars = max_output_chars
        self.stats = SandboxStats()
        self._owner = threading.get_ident()
        self._closed = False
        self._loaded: engine.Loaded | None = None
        self._acquire()

    @property
    def entry_point(self) -> str | None:
        """The entry point found when the code was loaded."""
        if self._loaded is None or self._loaded.entry_index < 0:
            return None
        return self.entry_points[self._loaded.entry_index]

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is not None and self.pooled and not self._closed \
                and threading.get_ident() == self._owner:
            engine.give_back(loaded)
        self._closed = True

    def _acquire(self) -> None:
        started = time.perf_counter()
        try:
            loaded = engine.take((self.code, self.entry_points)) if self.pooled else None
            if loaded is None:
                self.stats.contexts += 1
                loaded = engine.load(self.code, self.entry_points, self.limits)
            loaded.configure(self.limits)
            self._loaded = loaded
        finally:
            self.stats.setup_seconds += time.perf_counter() - started

    # -- calls -----------------------------------------------------------------------------
    def call(self, record: Any) -> Any:
        """Run the entry point on one record; returns its result as plain Python data."""
        if self._closed:
            raise RuntimeError("Sandbox is closed")
        if threading.get_ident() != self._owner:
            raise RuntimeError("a Sandbox must be used only by the thread that created it")
        self.stats.records += 1
        try:
            return self._decode(self._invoke(_to_json(record)))
        except JsError as exc:
            self.stats.failures[exc.code] = self.stats.failures.get(exc.code, 0) + 1
            raise

    def _invoke(self, payload: str) -> str:
        if self._loaded is None:          # the previous context was dropped (out of memory)
            self._acquire()
        loaded = self._loaded
        assert loaded is not None
        try:
            return engine.invoke(loaded, payload, self.limits)
        finally:
            if loaded.broken:
                self._loaded = None

    def _decode(self, result: str) -> Any:
        tag = result[:1]
        if not tag.isupper():     # JSON text
            if len(result) > self.max_output_chars:
                raise JsError(JS_OUTPUT, f"the result is larger than {self.max_output_chars} "
                                         "characters of JSON")
            return _decode_json(result)
        body = result[1:]
        name = self.entry_point or self.entry_points[0]
        if tag == prelude.TAG_UNDEFINED:
            raise JsError(JS_OUTPUT, f"{name}() returned undefined; return JSON data "
                                     "(an object, an array, null, ...)")
        if tag == prelude.TAG_BADTYPE:
            what = ("a Promise (async functions are not supported)" if body == "promise"
                    else f"a {body}")
            raise JsError(JS_OUTPUT, f"{name}() returned {what}, which is not JSON")
        if tag == prelude.TAG_SERIALISE:
            raise JsError(JS_OUTPUT, f"the result of {name}() is not JSON-serialisable: {body}")
        if tag == prelude.TAG_NO_ENTRY:
            raise JsError(JS_ERROR, "the code did not define " + " or ".join(self.entry_points))
        raise JsError(JS_ERROR, f"unexpected sandbox result {result[:40]!r}")


# -- input encoding ----------------------------------------------------------------------------
def _default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)   # ObjectId, UUID, ...


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default)
_decode_json = json.JSONDecoder().decode


def _to_json(record: Any) -> str:
    """JSON text for JSON.parse. ASCII only, so no NUL byte or lone surrogate reaches the C
    API; NaN/Infinity become null; datetimes ISO strings; bytes base64; other objects str()."""
    try:
        return _ENCODER.encode(record)
    except ValueError:
        return _ENCODER.encode(_finite(record))


def check_syntax(code: Any, entry_points: tuple[str, ...] = ("transform",), path: str = "code",
                 limits: JsLimits | None = None) -> None:
    """Raise ValidationFailed (code JS_SYNTAX, or the JsError code of a failing top level).

    The code is loaded into a fresh hardened context under `limits` (default JsLimits()): it is
    compiled and its top level runs once, bounded in time, memory and stack, so an entry
    point assigned at run time (`var transform = ...`) is found too."""
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed.at(path, "must be a non-empty string of JavaScript", code=JS_SYNTAX)
    try:
        Sandbox(code, entry_points, limits, pooled=False).close()
    except JsError as exc:
        detail: dict[str, Any] = {"path": path, "message": exc.message}
        if exc.line is not None:
            detail["line"] = exc.line
        if exc.column is not None:
            detail["column"] = exc.column
        raise ValidationFailed(f"{path}: {exc.message}", code=exc.code, details=[detail]) from None
