"""The QuickJS sandbox: one per chunk and thread, nothing shared between records.

    with Sandbox(code, ("transform",), JsLimits(time_ms=200)) as box:
        for record in chunk:
            try:
                out = box.call(record)
            except JsError as exc:
                ...  # exc.code in JS_ERROR / JS_TIMEOUT / JS_MEMORY / JS_STACK / JS_OUTPUT
        outs = box.call_many(chunk)      # the same, a JsError in place of each failed record,
                                         # many records per crossing of the boundary

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
from shared.jsbox.errors import JS_ERROR, JS_MEMORY, JS_OUTPUT, JS_STACK, JS_SYNTAX, JsError, thrown_error
from shared.jsbox.limits import JsLimits
from shared.windows import next_window

MAX_OUTPUT_CHARS = 16 * 1024 * 1024   # MongoDB's document size limit
BATCH_FIRST = 8                       # records in the first call of call_many
BATCH_MOST = 256                      # records per call at most
BATCH_CHARS = 1024 * 1024             # JSON characters of input per call (then a call of its own)


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
        self._batching = True             # call_many may still send several records per call
        self._batch_size = BATCH_FIRST
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
        self._check_usable()
        self.stats.records += 1
        try:
            return self._decode(self._invoke(_to_json(record)))
        except JsError as exc:
            self.stats.failures[exc.code] = self.stats.failures.get(exc.code, 0) + 1
            raise

    def call_many(self, records: list[Any]) -> list[Any]:
        """`call` on each record in turn, a JsError in place of each record that failed, in
        fewer crossings of the Python/QuickJS boundary: records go to the sandbox in arrays,
        and each still runs exactly as in a call of its own (fresh state, its own errors).
        What a shared call cannot judge record by record is judged by a call of its own: a
        time-out or an out-of-memory error that ends a shared call (the time limit counts per
        call) sends this sandbox back to one call per record; a record's stack overflow, out
        of memory or oversized result is re-run alone. Calls are kept to about a quarter of
        the time limit at the pace measured so far."""
        self._check_usable()
        out: list[Any] = []
        target_s = self.limits.time_ms / 1000.0 / 4
        i = 0
        while i < len(records):
            if not self._batching or self._batch_size == 1:
                out.append(self._call_caught(records[i]))
                i += 1
                continue
            payloads, chars = [], 0
            for record in records[i:i + self._batch_size]:
                payloads.append(_to_json(record))
                chars += len(payloads[-1])
                if chars > BATCH_CHARS:
                    break
            window = records[i:i + len(payloads)]
            started = time.process_time()
            out.extend(self._call_window(window, payloads))
            self._batch_size = next_window(self._batch_size, time.process_time() - started, len(window),
                                           target_s, BATCH_MOST)
            i += len(window)
        return out

    def _call_window(self, window: list[Any], payloads: list[str]) -> list[Any]:
        if len(window) == 1:
            return [self._call_caught(window[0])]
        try:
            text = self._invoke("[" + ",".join(payloads) + "]", self.max_output_chars)
        except JsError:
            self._batching = False
            return [self._call_caught(r) for r in window]
        results: list[Any] = []
        for k, (kind, body) in enumerate(_decode_json(text)):
            if kind == 0:
                self.stats.records += 1
                results.append(body)
                continue
            err = None if body == "L" else self._tagged_error(body)
            if err is not None and err.code == JS_MEMORY:
                # The context may be corrupt from here on: drop it, and run this record and
                # the rest of the window alone, as their own calls would have.
                if self._loaded is not None:
                    self._loaded.broken = True
                    self._loaded = None
                self._batching = False
                results.extend(self._call_caught(r) for r in window[k:])
                break
            if err is None or err.code == JS_STACK:
                results.append(self._call_caught(window[k]))
                continue
            self.stats.records += 1
            self.stats.failures[err.code] = self.stats.failures.get(err.code, 0) + 1
            results.append(err)
        return results

    def _tagged_error(self, body: str) -> JsError:
        if body[:1] == prelude.TAG_THROWN:
            return thrown_error(body[1:], self.limits, self.code)
        try:
            self._decode(body)
        except JsError as exc:
            return exc
        return JsError(JS_ERROR, f"unexpected sandbox result {body[:40]!r}")

    def _call_caught(self, record: Any) -> Any:
        try:
            return self.call(record)
        except JsError as exc:
            return exc

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("Sandbox is closed")
        if threading.get_ident() != self._owner:
            raise RuntimeError("a Sandbox must be used only by the thread that created it")

    def _invoke(self, payload: str, max_chars: int | None = None) -> str:
        if self._loaded is None:          # the previous context was dropped (out of memory)
            self._acquire()
        loaded = self._loaded
        assert loaded is not None
        try:
            return engine.invoke(loaded, payload, self.limits, max_chars)
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
