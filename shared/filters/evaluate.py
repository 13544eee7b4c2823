"""Evaluate a filter tree against one record in Python, with MongoDB's exact semantics.

Used where records are not (yet) in MongoDB; the property test checks it against a real
mongod. The rules mirrored here are those of the server's classic matcher (6.0):

* A dotted path yields *elements* the way `BSONElementIterator` does: walking through nested
  documents; at an array that ends the path, each element and then the whole array; at an
  array in the middle, the rest of the path inside each element that is a document, and - for
  a numeric segment equal to an element's index - inside that element too. A path that stops
  at a non-document yields one "missing" element; a path through an array yields nothing for
  array elements that are neither documents nor indexed.
* A condition holds if any element satisfies it; `ne`, `nin`, `exists: false` and
  `is_null: false` are the negations of `eq`, `in`, `exists: true` and `is_null: true`.
* Values only compare within a BSON type bracket: numbers (int, float, Decimal128) with each
  other, strings with strings, datetimes with datetimes, booleans with booleans. `True != 1`.
  A null operand matches null and missing. NaN equals only NaN and is never ordered.
* Regular expressions only match strings; patterns are the ones the compiler sends to the
  server, run with Python `re`. For the escaped text the compiler generates the two engines
  agree; for user patterns the parser refuses syntax they read differently, except that
  `\\d`, `\\w`, `\\s` and `\\b` are Unicode-aware here and ASCII-only in MongoDB.
"""
from __future__ import annotations

import re
import warnings
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterator, Mapping

from shared.filters.ast import And, Condition, Node, Not, Or, naive_utc_ms
from shared.filters.mongo import folds, pattern_for


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# Canonical BSON type order ("brackets"); only equality of brackets matters here.
_NULL, _NUMBER, _STRING, _OBJECT, _ARRAY, _BINARY, _BOOL, _DATE = 5, 10, 15, 20, 25, 30, 40, 45


def _is_array(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _bracket(value: Any) -> int | str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, (int, float, Decimal)):  # bson.Int64 is an int
        return _NUMBER
    cls = type(value).__name__
    if isinstance(value, str):
        return "code" if cls == "Code" else _STRING  # bson.Code subclasses str
    if isinstance(value, Mapping):
        return _OBJECT
    if _is_array(value):
        return _ARRAY
    if isinstance(value, (bytes, bytearray)):
        return _BINARY
    if isinstance(value, datetime):
        return _DATE
    if cls == "Decimal128":
        return _NUMBER
    return cls  # ObjectId, Timestamp, ...: never equal to anything a filter can hold


def _number(value: Any) -> Any:
    return value.to_decimal() if type(value).__name__ == "Decimal128" else value


def _is_nan(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_nan()
    return isinstance(value, float) and value != value


def _equal(a: Any, b: Any) -> bool:
    """BSON equality (`compareElements(a, b) == 0` without a collation)."""
    kind = _bracket(a)
    if kind != _bracket(b):
        return False
    if kind == _NUMBER:
        a, b = _number(a), _number(b)
        if _is_nan(a) or _is_nan(b):
            return _is_nan(a) and _is_nan(b)
        return bool(a == b)
    if kind == _DATE:
        return naive_utc_ms(a) == naive_utc_ms(b)
    if kind == _ARRAY:
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if kind == _OBJECT:
        # Embedded documents are equal only with the same fields in the same order.
        return (list(a.keys()) == list(b.keys())
                and all(_equal(a[k], b[k]) for k in a))
    return kind == _NULL or bool(a == b)


def _order(a: Any, b: Any) -> int | None:
    """-1/0/1 for scalars of the same bracket; None when MongoDB would not compare them."""
    kind = _bracket(a)
    if kind != _bracket(b) or kind not in (_NUMBER, _STRING, _BOOL, _DATE):
        return None
    if kind == _NUMBER:
        a, b = _number(a), _number(b)
        if _is_nan(a) or _is_nan(b):
            return None
    elif kind == _DATE:
        a, b = naive_utc_ms(a), naive_utc_ms(b)
    return (a > b) - (a < b)


@lru_cache(maxsize=512)
def _compiled(pattern: str, fold: bool) -> re.Pattern[str]:
    with warnings.catch_warnings():
        # The parser refuses patterns Python warns about; a hand-built node may still hold one.
        warnings.simplefilter("ignore")
        return re.compile(pattern, re.IGNORECASE if fold else 0)


def _search(pattern: str, fold: bool, element: Any) -> bool:
    return (_bracket(element) == _STRING
            and _compiled(pattern, fold).search(element) is not None)


def elements(record: Mapping[str, Any], parts: list[str]) -> Iterator[Any]:
    """What MongoDB's matcher sees at a dotted path (see the module docstring); `MISSING`
    stands for an absent field."""
    value, index = _dotted_or_array(record, parts)
    if _is_array(value):
        yield from _in_array(value, parts[index + 1:])
    else:
        yield value


def _dotted_or_array(doc: Mapping[str, Any], parts: list[str]) -> tuple[Any, int]:
    """Walk documents until the path ends or an array is reached (`getFieldDottedOrArray`)."""
    current: Any = doc
    for i, part in enumerate(parts):
        if part not in current:
            return MISSING, i
        value = current[part]
        if _is_array(value):
            return value, i
        if not isinstance(value, Mapping):
            return (value if i == len(parts) - 1 else MISSING), i
        current = value
    return current, len(parts)


def _in_array(array: Any, rest: list[str]) -> Iterator[Any]:
    if not rest:
        yield from array
        yield array
        return
    head = rest[0]
    for i, item in enumerate(array):
        is_offset = head == str(i)
        if isinstance(item, Mapping):
            yield from elements(item, rest)
            if is_offset:
                if len(rest) == 1:
                    yield item
                else:
                    yield from elements(item, rest[1:])
        elif is_offset:
            if len(rest) == 1:
                yield item
            elif _is_array(item):
                # Indexed nested array: traversed with the remaining path, never as a leaf.
                yield from _in_array(item, rest[1:])


def _equals_operand(element: Any, operand: Any, fold: bool) -> bool:
    if fold and isinstance(operand, str):
        return _search(pattern_for("eq", operand), True, element)
    if operand is None:
        return element is MISSING or element is None
    return element is not MISSING and _equal(element, operand)


_RANGE = {
    "gt": lambda c: c > 0, "gte": lambda c: c >= 0,
    "lt": lambda c: c < 0, "lte": lambda c: c <= 0,
}


def _element_matches(cond: Condition, element: Any) -> bool:
    """The positive form of `cond` (eq for ne, in for nin, ...) on one element."""
    op, value, fold = cond.operator, cond.value, folds(cond)
    if op in ("eq", "ne"):
        return _equals_operand(element, value, fold)
    if op in ("in", "nin"):
        return any(_equals_operand(element, x, fold) for x in value)
    if op == "exists":
        return element is not MISSING
    if op == "is_null":
        return element is MISSING or element is None
    if op in _RANGE:
        if element is MISSING:
            return False
        order = _order(element, value)
        return order is not None and _RANGE[op](order)
    return _search(pattern_for(op, value), fold, element)


def _negated(cond: Condition) -> bool:
    return (cond.operator in ("ne", "nin")
            or (cond.operator in ("exists", "is_null") and cond.value is False))


def matches(node: Node | None, record: Mapping[str, Any],
            resolve: Callable[[str], str] | None = None) -> bool:
    """Whether `record` satisfies `node` (None matches everything), exactly as MongoDB would
    answer the query `to_mongo(node, resolve)` for this record once stored."""
    if node is None:
        return True
    if isinstance(node, Condition):
        path = (resolve(node.field) if resolve else node.field).split(".")
        hit = any(_element_matches(node, e) for e in elements(record, path))
        return not hit if _negated(node) else hit
    if isinstance(node, And):
        return all(matches(item, record, resolve) for item in node.items)
    if isinstance(node, Or):
        return not node.items or any(matches(item, record, resolve) for item in node.items)
    if isinstance(node, Not):
        return not any(matches(item, record, resolve) for item in node.items)
    raise TypeError(f"not a filter node: {node!r}")
