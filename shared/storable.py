"""What may be stored: the one field-name rule and the check that names the first value
MongoDB (or a JSON reader of the API) could not take.

Every path where user data becomes a stored record runs `storable` first — API request
bodies, extractor and taxonomy outputs in batches, pipeline and streaming records — so a bad
value fails its own request or record with a path and a reason, and MongoDB never sees it
(a NUL in a key or an integer beyond 64 bits used to crash a whole chunk in the driver).

The field-name rule (`name_problem`), for user data at every depth: a field name is a
non-empty string that does not start with `$` and contains neither `.` nor NUL. Dots are
how filters and sorts address nested fields, and `$` is how MongoDB spells operators, so a
name with either could be stored but never addressed.
"""
from __future__ import annotations

import datetime as _dt
import math
import uuid
from dataclasses import dataclass
from typing import Any

INVALID_RECORD = "INVALID_RECORD"       # per-record code in batches, runs and streaming
RECORD_TOO_LARGE = "RECORD_TOO_LARGE"

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
# mongod refuses documents nested deeper than ~180 levels; stored user data sits one or two
# levels below the document root, so 100 leaves room and is far beyond any sane record.
MAX_DEPTH = 100
# MongoDB's document limit is 16 MiB; the estimate below counts characters, not BSON bytes,
# so the default keeps a margin for system fields and multi-byte characters.
MAX_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with a value: where (a dotted path) and what."""
    path: str
    message: str
    code: str = INVALID_RECORD

    def detail(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def name_problem(name: Any) -> str | None:
    """The field-name rule: why `name` may not name a field of user data, or None."""
    if not isinstance(name, str):
        return "field names must be strings"
    if not name:
        return "field names must not be empty"
    if "\x00" in name:
        return "field names must not contain NUL characters"
    if name.startswith("$"):
        return "field names must not start with '$'"
    if "." in name:
        return "field names must not contain '.' (dots address nested fields)"
    if _has_surrogate(name):
        return "field names must be valid Unicode (no lone surrogates)"
    return None


def _key_problem(name: Any) -> str | None:
    """What MongoDB itself cannot take as a key (config bodies, which may use dotted names
    such as the simple filter form `{"a.b": 1}`)."""
    if not isinstance(name, str):
        return "field names must be strings"
    if "\x00" in name:
        return "field names must not contain NUL characters"
    if name.startswith("$"):
        return "field names must not start with '$'"
    if _has_surrogate(name):
        return "field names must be valid Unicode (no lone surrogates)"
    return None


def _bson_scalars() -> tuple[type, ...]:
    import bson

    return (_dt.datetime, bytes, uuid.UUID, bson.ObjectId, bson.Decimal128, bson.Binary,
            bson.Timestamp, bson.Int64, bson.Regex, bson.Code, bson.MinKey, bson.MaxKey, bson.DBRef)


_SCALARS: tuple[type, ...] | None = None


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def storable(value: Any, path: str = "", *, names: bool = True, max_depth: int = MAX_DEPTH,
             max_bytes: int = MAX_BYTES) -> Problem | None:
    """The first problem that keeps `value` from being stored, or None.

    `names=True` applies the field-name rule to every key (user data); `names=False` only
    refuses keys MongoDB cannot store or would read as operators (NUL, a leading `$`).
    Also refused: integers outside 64 bits, NaN and infinities (not JSON), strings with lone
    surrogates (not UTF-8), nesting deeper than `max_depth`, more than about `max_bytes`, and
    types neither JSON nor BSON know (sets, arbitrary objects).

    Every output document of a batch passes here, so the common case (nothing wrong) takes
    a quick walk that builds no paths; only a value it cannot vouch for is walked again to
    name the problem and its path."""
    if _plainly_storable(value, names, max_depth, max_bytes):
        return None
    return _first_problem(value, path, names, max_depth, max_bytes)


def _plainly_storable(value: Any, names: bool, max_depth: int, max_bytes: int) -> bool:
    """True only when `_first_problem` finds nothing: the same size estimate and depth rule,
    the common types only (anything else: False, and the full walk decides)."""
    size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is str:
            size += len(item) + 5
            if not item.isascii() and _has_surrogate(item):
                return False
        elif kind is bool or item is None:
            size += 2
        elif kind is int:
            size += 9
            if not INT64_MIN <= item <= INT64_MAX:
                return False
        elif kind is float:
            size += 9
            if item - item != 0.0:          # NaN or infinite
                return False
        elif kind is dict:
            if depth >= max_depth:
                return False
            size += 5
            for key, sub in item.items():
                if type(key) is not str or "\x00" in key or key[:1] == "$" or (names and (not key or "." in key)) \
                        or (not key.isascii() and _has_surrogate(key)):
                    return False
                size += len(key) + 2
                push((sub, depth + 1))
        elif kind is list:
            if depth >= max_depth:
                return False
            size += 5
            for sub in item:
                push((sub, depth + 1))
        else:
            return False
        if size > max_bytes:
            return False
    return True


def _first_problem(value: Any, path: str, names: bool, max_depth: int, max_bytes: int) -> Problem | None:
    global _SCALARS
    if _SCALARS is None:
        _SCALARS = _bson_scalars()
    check_name = name_problem if names else _key_problem
    size = 0
    # Iterative walk: user data may be nested deeper than Python's recursion limit.
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        kind = type(item)
        if kind is str:
            size += len(item) + 5
            if _has_surrogate(item):
                return Problem(where, "is not valid Unicode (a lone surrogate)")
        elif kind is bool or item is None:
            size += 2
        elif kind is int:
            size += 9
            if not INT64_MIN <= item <= INT64_MAX:
                return Problem(where, "is an integer beyond 64 bits, which cannot be stored")
        elif kind is float:
            size += 9
            if not math.isfinite(item):
                return Problem(where, "is NaN or infinite, which is not JSON")
        elif isinstance(item, dict):
            if depth >= max_depth:
                return Problem(where, f"is nested more than {max_depth} levels deep")
            size += 5
            for key, sub in item.items():
                problem = check_name(key)
                if problem is not None:
                    return Problem(_join(where, key if isinstance(key, str) else repr(key)), problem)
                size += len(key) + 2
                stack.append((sub, _join(where, key), depth + 1))
        elif isinstance(item, (list, tuple)):
            if depth >= max_depth:
                return Problem(where, f"is nested more than {max_depth} levels deep")
            size += 5
            stack.extend((sub, _join(where, i), depth + 1) for i, sub in enumerate(item))
        elif isinstance(item, (int, float, str)):
            size += 9
            if (problem := _subclass_problem(item, where)) is not None:
                return problem
        elif isinstance(item, _SCALARS):
            size += 17 if not isinstance(item, (bytes, bytearray)) else len(item) + 5
        else:
            return Problem(where, f"is a {kind.__name__}, which cannot be stored (not JSON or BSON)")
        if size > max_bytes:
            return Problem(path, f"is larger than {max_bytes} bytes", RECORD_TOO_LARGE)
    return None


def _subclass_problem(item: Any, where: str) -> Problem | None:
    """Subclasses of the scalar types (bson.Int64, IntEnum, str enums) are checked as their
    base value."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return None if INT64_MIN <= item <= INT64_MAX else Problem(
            where, "is an integer beyond 64 bits, which cannot be stored")
    if isinstance(item, float):
        return None if math.isfinite(item) else Problem(where, "is NaN or infinite, which is not JSON")
    return Problem(where, "is not valid Unicode (a lone surrogate)") if _has_surrogate(item) else None
