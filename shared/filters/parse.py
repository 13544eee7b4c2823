"""Parse and validate the user-facing filter language into a `Node` tree.

Every problem is collected (not just the first) so one round-trip tells the user everything
that is wrong; each problem carries a dotted path rooted at the caller's `path` argument, e.g.
`filters.AND.0.operator`.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Callable, Mapping

from shared.errors import ValidationFailed
from shared.filters.ast import (
    MAX_FIELD_LEN, OPERATORS, And, Condition, FilterLimits, Node, Not, Or, field_problem,
    naive_utc_ms, pattern_problem,
)
from shared.timeutil import parse_iso

ERROR_CODE = "invalid_filter"
GROUP_KEYS = ("AND", "OR", "NOT", "case_sensitive")
CONDITION_KEYS = ("field", "operator", "value")
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_RANGE_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
_SCALAR_TYPES = "a string, number, boolean, null or datetime"


class _Invalid:
    """Marks a value that failed validation (None is a legitimate value)."""


_INVALID = _Invalid()


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


class _Parser:
    def __init__(self, limits: FilterLimits, datetime_fields: frozenset[str],
                 resolve: Callable[[str], str]):
        self.limits = limits
        self.datetime_fields = datetime_fields
        self.resolve = resolve
        self.errors: list[dict[str, str]] = []
        self.terms = 0

    def error(self, path: str, message: str) -> None:
        self.errors.append({"path": path, "message": message})

    # -- structure -------------------------------------------------------------------------

    def group(self, raw: Mapping[str, Any], path: str, depth: int, inherited_cs: bool) -> Node:
        cs = inherited_cs
        if "case_sensitive" in raw:
            if isinstance(raw["case_sensitive"], bool):
                cs = raw["case_sensitive"]
            else:
                self.error(_join(path, "case_sensitive"), "must be true or false")
        kept: dict[str, tuple[Node, ...]] = {}
        for key, listed in raw.items():  # in input order, so problems are listed in that order
            if key == "case_sensitive":
                continue
            if key not in GROUP_KEYS:
                self.error(_join(path, key),
                           f"unknown key {key!r}; expected one of: {', '.join(GROUP_KEYS)}")
            elif not isinstance(listed, (list, tuple)):
                self.error(_join(path, key), "must be a list")
            else:
                items = [self.item(x, _join(_join(path, key), i), depth, cs)
                         for i, x in enumerate(listed)]
                kept[key] = tuple(x for x in items if x is not None)
        # AND items join this level; an empty OR / NOT constrains nothing, so it is dropped.
        parts: list[Node] = list(kept.get("AND", ()))
        if kept.get("OR"):
            parts.append(Or(kept["OR"]))
        if kept.get("NOT"):
            parts.append(Not(kept["NOT"]))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def item(self, raw: Any, path: str, depth: int, cs: bool) -> Node | None:
        if not isinstance(raw, Mapping):
            self.error(path, "must be an object: a condition {field, operator, value} "
                             "or a group {AND, OR, NOT}")
            return None
        self.terms += 1
        if any(k in raw for k in CONDITION_KEYS):
            return self.condition(raw, path, cs)
        if raw and not any(k in raw for k in GROUP_KEYS):
            self.error(path, "expected a condition {field, operator, value} or a group "
                             f"{{AND, OR, NOT}}; got keys: {', '.join(map(str, raw))}")
            return None
        if depth + 1 > self.limits.max_depth:
            self.error(path, f"groups are nested more than {self.limits.max_depth} levels deep")
            return None
        return self.group(raw, path, depth + 1, cs)

    def simple(self, raw: Mapping[str, Any], path: str) -> Node:
        """`{"a": 1, "b": "x"}`: an AND of `eq` conditions (case-insensitive, the default)."""
        items: list[Node] = []
        for key, value in raw.items():
            here = _join(path, key)
            self.terms += 1
            name = self.field(key, here)
            if isinstance(value, Mapping):
                self.error(here, f"a simple-form value must be {_SCALAR_TYPES}, or a list of "
                                 "those; use the full form {\"AND\": [{\"field\", \"operator\", "
                                 "\"value\"}]} for other operators")
                continue
            value = self.value(value, here, name)
            if name is not None and value is not _INVALID:
                items.append(Condition(name, "eq", value, False))
        return items[0] if len(items) == 1 else And(tuple(items))

    def condition(self, raw: Mapping[str, Any], path: str, cs: bool) -> Condition | None:
        for key in raw:
            if key not in CONDITION_KEYS:
                self.error(_join(path, key),
                           f"unknown key {key!r}; expected one of: {', '.join(CONDITION_KEYS)}")
        name: str | None = None
        if "field" not in raw:
            self.error(_join(path, "field"), "is required")
        else:
            name = self.field(raw["field"], _join(path, "field"))
        op = raw.get("operator")
        op_path = _join(path, "operator")
        if "operator" not in raw:
            self.error(op_path, "is required")
            return None
        if not isinstance(op, str) or op not in OPERATORS:
            shown = repr(op) if isinstance(op, str) else f"of type {type(op).__name__}"
            self.error(op_path, f"unknown operator {shown}; expected one of: "
                                f"{', '.join(OPERATORS)}")
            return None
        value_path = _join(path, "value")
        if "value" not in raw:
            self.error(value_path, f"is required for operator {op!r}")
            return None
        value = self.operand(op, raw["value"], value_path, name)
        if name is None or value is _INVALID:
            return None
        return Condition(name, op, value, cs)

    def field(self, raw: Any, path: str) -> str | None:
        if not isinstance(raw, str):
            self.error(path, "a field name must be a string")
            return None
        problem = field_problem(raw)
        if problem:
            self.error(path, f"field name {raw[:MAX_FIELD_LEN]!r} {problem}")
            return None
        return raw

    # -- values ----------------------------------------------------------------------------

    def operand(self, op: str, raw: Any, path: str, name: str | None) -> Any:
        limits = self.limits
        if op in ("eq", "ne"):
            return self.value(raw, path, name)
        if op in _RANGE_OPERATORS:
            if raw is None or isinstance(raw, (list, tuple, Mapping)):
                self.error(path, f"operator {op!r} needs a number, string, boolean or datetime")
                return _INVALID
            return self.scalar(raw, path, name)
        if op in ("in", "nin"):
            if not isinstance(raw, (list, tuple)):
                self.error(path, f"operator {op!r} needs a list")
                return _INVALID
            if len(raw) > limits.max_in_values:
                self.error(path, f"operator {op!r} accepts at most {limits.max_in_values} "
                                 f"values; got {len(raw)}")
                return _INVALID
            items = [self.value(x, _join(path, i), name) for i, x in enumerate(raw)]
            return _INVALID if any(x is _INVALID for x in items) else tuple(items)
        if op in ("exists", "is_null"):
            if not isinstance(raw, bool):
                self.error(path, f"operator {op!r} needs true or false")
                return _INVALID
            return raw
        # contains / starts_with / ends_with / regex: user text, never converted to datetimes
        if not isinstance(raw, str):
            self.error(path, f"operator {op!r} needs a string")
            return _INVALID
        if op == "regex":
            if len(raw) > limits.max_regex_len:
                self.error(path, f"regular expression is longer than {limits.max_regex_len} "
                                 "characters")
                return _INVALID
            problem = pattern_problem(raw)
            if problem:
                self.error(path, f"pattern {problem}")
                return _INVALID
            return raw
        return self.string(raw, path)

    def value(self, raw: Any, path: str, name: str | None) -> Any:
        """A scalar, or a list of scalars (matched against whole arrays, as MongoDB does)."""
        if isinstance(raw, (list, tuple)):
            if len(raw) > self.limits.max_in_values:
                self.error(path, f"a list value accepts at most {self.limits.max_in_values} "
                                 f"items; got {len(raw)}")
                return _INVALID
            items = []
            for i, x in enumerate(raw):
                if isinstance(x, (list, tuple, Mapping)):
                    self.error(_join(path, i), f"must be {_SCALAR_TYPES} (nested lists and "
                                               "objects are not supported)")
                    items.append(_INVALID)
                else:
                    items.append(self.scalar(x, _join(path, i), name))
            return _INVALID if any(x is _INVALID for x in items) else tuple(items)
        return self.scalar(raw, path, name)

    def scalar(self, raw: Any, path: str, name: str | None) -> Any:
        if raw is None or isinstance(raw, bool):
            return raw
        if isinstance(raw, int):
            if not _INT64_MIN <= raw <= _INT64_MAX:
                self.error(path, "integer does not fit in 64 bits")
                return _INVALID
            return int(raw)
        if isinstance(raw, float):
            if math.isnan(raw):
                self.error(path, "NaN is not allowed")
                return _INVALID
            return raw
        if isinstance(raw, datetime):
            return naive_utc_ms(raw)
        if isinstance(raw, str):
            text = self.string(raw, path)
            if text is _INVALID or name is None or self.resolve(name) not in self.datetime_fields:
                return text
            try:
                return naive_utc_ms(parse_iso(text))
            except (ValueError, OverflowError):
                self.error(path, f"field {name!r} holds datetimes; {text[:64]!r} is not an "
                                 "ISO-8601 datetime")
                return _INVALID
        self.error(path, f"must be {_SCALAR_TYPES}; got {type(raw).__name__}")
        return _INVALID

    def string(self, raw: str, path: str) -> Any:
        if len(raw) > self.limits.max_string_len:
            self.error(path, f"string is longer than {self.limits.max_string_len} characters")
            return _INVALID
        return raw


def parse_filter(raw: Any, path: str = "filters", limits: FilterLimits = FilterLimits(),
                 datetime_fields: frozenset[str] = frozenset(), *,
                 resolve: Callable[[str], str] | None = None) -> Node | None:
    """Validate `raw` (decoded JSON) and return its syntax tree, or None for "no filter".

    `datetime_fields` are stored paths: a string value compared with a field whose resolved
    path is listed is parsed as ISO-8601 (naive values are UTC). `resolve` maps user field
    names to stored paths for that check only; field names in the tree stay unresolved.
    Raises `ValidationFailed` (code `invalid_filter`) listing every problem found.
    """
    if raw is None:
        return None
    if isinstance(raw, Mapping) and not raw:
        return None
    parser = _Parser(limits, frozenset(datetime_fields), resolve or (lambda name: name))
    node: Node | None = None
    if not isinstance(raw, Mapping):
        parser.error(path, "a filter must be an object")
    elif any(k in raw for k in GROUP_KEYS):
        node = parser.group(raw, path, 1, False)
    elif "field" in raw and "operator" in raw:
        # A bare condition at the top level. Read literally it would be the simple form over
        # fields called "field" and "operator", which nobody means.
        parser.terms += 1
        node = parser.condition(raw, path, False)
    else:
        node = parser.simple(raw, path)
    if parser.terms > limits.max_terms:
        parser.error(path, f"filter has {parser.terms} terms (conditions and groups); at most "
                           f"{limits.max_terms} are allowed")
    if parser.errors:
        n = len(parser.errors)
        raise ValidationFailed(f"invalid filter: {n} problem{'s' if n != 1 else ''}",
                               code=ERROR_CODE, details=parser.errors)
    return node
