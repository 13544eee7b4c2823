"""The filter language: parse user filters, compile them to MongoDB queries, or evaluate them
in Python with the same semantics.

    {"AND": [...], "OR": [...], "NOT": [...], "case_sensitive": false}

Each list item is a condition `{"field": "a.b", "operator": "eq", "value": ...}` or a nested
group. The simple form `{"status": "done", "n": 3}` means an AND of `eq` conditions, and a
bare condition is accepted at the top level. `None` / `{}` mean "no filter". See `parse.py`
for validation and limits, `mongo.py` for the compiled form, `evaluate.py` for semantics.

case_sensitive (default false, inherited by nested groups) affects string operands of
eq/ne/in/nin/contains/starts_with/ends_with/regex only; gt/gte/lt/lte always compare strings
by code point, case-sensitively.
"""
from __future__ import annotations

from typing import Any, Callable

from shared.filters.ast import (
    CASE_FOLDING_OPERATORS, OPERATORS, And, Condition, Node, Not, Or, field_names,
)
from shared.filters.evaluate import matches
from shared.filters.mongo import to_mongo
from shared.filters.parse import ERROR_CODE, FilterLimits, parse_filter

__all__ = [
    "And", "CASE_FOLDING_OPERATORS", "Condition", "ERROR_CODE", "FilterLimits", "Node", "Not",
    "OPERATORS", "Or", "compile_filter", "field_names", "matches", "parse_filter", "to_mongo",
]


def compile_filter(raw: Any, path: str = "filters",
                   resolve: Callable[[str], str] | None = None,
                   datetime_fields: frozenset[str] = frozenset(),
                   limits: FilterLimits = FilterLimits()) -> dict[str, Any]:
    """Parse `raw` and compile it to a MongoDB query (`{}` for no filter).

    Raises `shared.errors.ValidationFailed` (code `invalid_filter`) listing every problem.
    """
    node = parse_filter(raw, path, limits, datetime_fields, resolve=resolve)
    return to_mongo(node, resolve)
