"""Compile a filter tree into a MongoDB query document.

The output is plain Python data (dicts, lists, scalars, `datetime`, and `re.Pattern` for
case-insensitive `in`/`nin` items, which pymongo encodes as BSON regexes). Only plain query
operators are emitted - never `$where`, `$function`, `$expr` or `$accumulator` - and user text
is always escaped before it is put into a pattern.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from shared.filters.ast import CASE_FOLDING_OPERATORS, And, Condition, Node, Not, Or

# End-of-string anchor understood identically by PCRE and Python `re`. `$` would also match
# before a final "\n" (in both engines), so a case-insensitive eq "abc" would match "abc\n";
# `\z` is PCRE-only (Python < 3.14 has no `\z`, and its `\Z` means PCRE's `\z`).
END = r"(?![\s\S])"


def escape(text: str) -> str:
    """`re.escape`, plus NUL spelled as `\\x00`: BSON regex patterns are C strings."""
    return re.escape(text).replace("\x00", r"\x00")


def pattern_for(operator: str, value: str) -> str:
    """The regular expression (PCRE and Python `re` alike) a string operand becomes."""
    if operator == "regex":
        return value
    text = escape(value)
    if operator == "contains":
        return text
    if operator == "starts_with":
        return "^" + text
    if operator == "ends_with":
        return text + END
    return "^" + text + END  # eq / ne / in / nin: the whole string


def folds(cond: Condition) -> bool:
    """Whether `cond` matches its string operands case-insensitively."""
    return not cond.case_sensitive and cond.operator in CASE_FOLDING_OPERATORS


def _regex(pattern: str, fold: bool) -> dict[str, Any]:
    return {"$regex": pattern, "$options": "i"} if fold else {"$regex": pattern}


def _plain(value: Any) -> Any:
    # The tree keeps lists as tuples (hashable nodes); queries get ordinary lists.
    return list(value) if isinstance(value, tuple) else value


def _condition(cond: Condition, path: str) -> dict[str, Any]:
    op, value, fold = cond.operator, cond.value, folds(cond)
    if op in ("eq", "ne"):
        if fold and isinstance(value, str):
            rx = _regex(pattern_for(op, value), True)
            return {path: rx if op == "eq" else {"$not": rx}}
        return {path: {"$" + op: _plain(value)}}
    if op in ("in", "nin"):
        # `$in` accepts real regexes mixed with values, and keeps MongoDB's array semantics;
        # a `{"$regex": ...}` document would be compared as a literal value instead.
        items = [re.compile(pattern_for(op, x), re.IGNORECASE) if fold and isinstance(x, str)
                 else _plain(x) for x in value]
        return {path: {"$" + op: items}}
    if op == "exists":
        return {path: {"$exists": value}}
    if op == "is_null":
        return {path: {"$eq" if value else "$ne": None}}
    if op in ("contains", "starts_with", "ends_with", "regex"):
        return {path: _regex(pattern_for(op, value), fold)}
    return {path: {"$" + op: value}}  # gt / gte / lt / lte


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """AND of query documents: one document when their keys are disjoint, else `$and`."""
    merged: dict[str, Any] = {}
    for part in parts:
        if merged.keys() & part.keys():
            return {"$and": parts}
        merged.update(part)
    return merged


def to_mongo(node: Node | None, resolve: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The MongoDB query for `node` (`{}` for no filter). `resolve` maps user field names to
    stored paths (identity by default)."""
    if node is None:
        return {}
    resolve = resolve or (lambda name: name)
    if isinstance(node, Condition):
        return _condition(node, resolve(node.field))
    if not isinstance(node, (And, Or, Not)):
        raise TypeError(f"not a filter node: {node!r}")
    parts = [to_mongo(item, resolve) for item in node.items]
    if not parts:
        return {}  # MongoDB rejects empty $and/$or/$nor; an empty group constrains nothing
    if isinstance(node, And):
        return _merge(parts)
    if isinstance(node, Or):
        return parts[0] if len(parts) == 1 else {"$or": parts}
    return {"$nor": parts}
