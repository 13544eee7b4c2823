"""The filter language's vocabulary: syntax-tree nodes, operators, limits and name rules.

The tree is already validated and normalised: field names are the user's (unresolved) names,
values are converted (ISO strings on datetime fields are `datetime`s, lists are tuples so nodes
stay hashable), and each condition carries the case sensitivity inherited from its group, so
the compiler and the evaluator never need to look at the raw input again.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Union

OPERATORS: tuple[str, ...] = (
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists", "is_null",
    "contains", "starts_with", "ends_with", "regex",
)

MAX_FIELD_LEN = 256

# Operators whose string values honour case_sensitive=false. Ranges (gt/gte/lt/lte) are
# deliberately excluded: a case-insensitive ordering would need a collation, which would make
# the query and the Python evaluator depend on ICU rules.
CASE_FOLDING_OPERATORS: frozenset[str] = frozenset(
    {"eq", "ne", "in", "nin", "contains", "starts_with", "ends_with", "regex"})


@dataclass(frozen=True)
class FilterLimits:
    """Bounds enforced at parse time so one request cannot make the server do unbounded work."""

    max_depth: int = 8          # nesting of groups, the top-level group being depth 1
    max_terms: int = 200        # conditions + nested groups
    max_regex_len: int = 256
    max_in_values: int = 1000   # items of in/nin, and of a list value for eq/ne
    max_string_len: int = 4096


@dataclass(frozen=True)
class Condition:
    """`field <operator> value`; `case_sensitive` is resolved from the enclosing groups."""

    field: str
    operator: str
    value: Any = None
    case_sensitive: bool = False


@dataclass(frozen=True)
class And:
    """All items match; no items matches everything."""

    items: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Or:
    """At least one item matches. The parser drops an empty OR; built by hand, an empty one
    constrains nothing (like an empty AND)."""

    items: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Not:
    """None of the items match (MongoDB `$nor`); empty constrains nothing."""

    items: tuple["Node", ...] = ()


Node = Union[Condition, And, Or, Not]


def field_names(node: Node | None) -> set[str]:
    """Every (user-facing, unresolved) field name a filter mentions."""
    if node is None:
        return set()
    if isinstance(node, Condition):
        return {node.field}
    names: set[str] = set()
    for item in node.items:
        names |= field_names(item)
    return names


def naive_utc_ms(dt: datetime) -> datetime:
    """The datetime MongoDB would hand back: naive UTC, truncated to milliseconds.

    Both the parser (filter values) and the evaluator (record values) go through this so that
    aware and naive datetimes compare, and so microseconds that the server drops on insert do
    not make the Python evaluator disagree with the server.
    """
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def field_problem(name: str) -> str | None:
    """Why `name` is not an acceptable field name, or None if it is."""
    if not name:
        return "must not be empty"
    if len(name) > MAX_FIELD_LEN:
        return f"must be at most {MAX_FIELD_LEN} characters"
    if "\x00" in name:
        return "must not contain NUL characters"
    segments = name.split(".")
    if any(not s for s in segments):
        return "must not have empty segments (leading, trailing or doubled dots)"
    # `$` segments would be read by MongoDB as operators or positional paths.
    if any(s.startswith("$") for s in segments):
        return "must not start with '$' (in any dotted segment)"
    return None


_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z-]+)[:)]")


def _engine_mismatch(pattern: str) -> str | None:
    """Syntax Python `re` accepts but MongoDB's PCRE rejects or reads differently.

    Not caught (documented divergence): `\\d`, `\\w`, `\\s`, `\\b` are Unicode-aware in
    Python and ASCII-only in PCRE, so they can disagree on non-ASCII text.
    """
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            escape = pattern[i + 1]
            if escape == "Z":
                return "uses \\Z, which PCRE reads like $; use $ (or (?![\\s\\S]) for the very end)"
            if escape in "uUN":
                return f"uses \\{escape}, which MongoDB's regular expressions do not support"
            i += 2
            continue
        flags = _INLINE_FLAGS.match(pattern, i)
        if flags and set(flags.group(1)) & set("aLux"):
            return f"uses the inline flags {flags.group(1)!r}; only i, m and s are supported"
        if pattern.startswith("{,", i):
            return "uses {,n}, which PCRE reads literally; write {0,n}"
        i += 1
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why a user regex is unusable, or None. It must compile with Python `re` (so the
    evaluator can run it) and mean the same to MongoDB's PCRE; syntax Python warns about
    (e.g. `[[:alpha:]]`, a POSIX class in PCRE) is refused for the same reason."""
    if "\x00" in pattern:
        return "must not contain NUL characters"
    mismatch = _engine_mismatch(pattern)
    if mismatch:
        return mismatch
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # re.UNICODE is already the default for str patterns; passing it only gives a
            # cache key of its own, so a copy the evaluator compiled (with warnings silenced)
            # cannot hide the warning here.
            re.compile(pattern, re.UNICODE)
    except (re.error, ValueError) as exc:
        return f"is not a valid regular expression: {exc}"
    except Warning as exc:
        return f"uses ambiguous regular-expression syntax: {exc}"
    return None
