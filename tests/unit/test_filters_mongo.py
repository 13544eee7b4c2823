"""Compiling filters to MongoDB query documents (pure: compares dicts, no database)."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from shared.errors import ValidationFailed
from shared.filters import And, Condition, Not, Or, compile_filter, parse_filter, to_mongo
from shared.filters.mongo import END, escape, pattern_for

FORBIDDEN = {"$where", "$function", "$expr", "$accumulator"}


def cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


def sensitive(*items: dict[str, Any]) -> dict[str, Any]:
    return {"AND": list(items), "case_sensitive": True}


def insensitive(*items: dict[str, Any]) -> dict[str, Any]:
    return {"AND": list(items)}


def ci(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def test_no_filter_is_an_empty_query() -> None:
    assert compile_filter(None) == {}
    assert compile_filter({}) == {}
    assert to_mongo(None) == {}
    assert compile_filter({"AND": [], "OR": [], "NOT": []}) == {}


@pytest.mark.parametrize("raw,query", [
    (sensitive(cond("a", "eq", "x")), {"a": {"$eq": "x"}}),
    (sensitive(cond("a", "ne", "x")), {"a": {"$ne": "x"}}),
    (insensitive(cond("a", "eq", 1)), {"a": {"$eq": 1}}),
    (insensitive(cond("a", "eq", True)), {"a": {"$eq": True}}),
    (insensitive(cond("a", "eq", None)), {"a": {"$eq": None}}),
    (insensitive(cond("a", "eq", ["x", 1])), {"a": {"$eq": ["x", 1]}}),  # lists stay lists
    (insensitive(cond("a", "ne", 2.5)), {"a": {"$ne": 2.5}}),
    (insensitive(cond("a", "gt", 1)), {"a": {"$gt": 1}}),
    (insensitive(cond("a", "gte", "B")), {"a": {"$gte": "B"}}),  # ranges never fold case
    (insensitive(cond("a", "lt", False)), {"a": {"$lt": False}}),
    (insensitive(cond("a", "lte", 0)), {"a": {"$lte": 0}}),
    (sensitive(cond("a", "in", ["x", 1, None, ["y"]])), {"a": {"$in": ["x", 1, None, ["y"]]}}),
    (sensitive(cond("a", "nin", [])), {"a": {"$nin": []}}),
    (insensitive(cond("a", "exists", True)), {"a": {"$exists": True}}),
    (insensitive(cond("a", "exists", False)), {"a": {"$exists": False}}),
    (insensitive(cond("a", "is_null", True)), {"a": {"$eq": None}}),
    (insensitive(cond("a", "is_null", False)), {"a": {"$ne": None}}),
    (sensitive(cond("a", "contains", "x")), {"a": {"$regex": "x"}}),
    (sensitive(cond("a", "starts_with", "x")), {"a": {"$regex": "^x"}}),
    (sensitive(cond("a", "ends_with", "x")), {"a": {"$regex": "x" + END}}),
    (sensitive(cond("a", "regex", "^x+$")), {"a": {"$regex": "^x+$"}}),
])
def test_operators(raw: dict[str, Any], query: dict[str, Any]) -> None:
    assert compile_filter(raw) == query


@pytest.mark.parametrize("raw,query", [
    (cond("a", "eq", "Ab"), {"a": {"$regex": "^Ab" + END, "$options": "i"}}),
    (cond("a", "ne", "Ab"), {"a": {"$not": {"$regex": "^Ab" + END, "$options": "i"}}}),
    (cond("a", "contains", "x"), {"a": {"$regex": "x", "$options": "i"}}),
    (cond("a", "starts_with", "x"), {"a": {"$regex": "^x", "$options": "i"}}),
    (cond("a", "ends_with", "x"), {"a": {"$regex": "x" + END, "$options": "i"}}),
    (cond("a", "regex", "x|y"), {"a": {"$regex": "x|y", "$options": "i"}}),
    (cond("a", "in", ["x", 1, None, ["Y"]]),
     {"a": {"$in": [ci("^x" + END), 1, None, ["Y"]]}}),  # only top-level strings fold
    (cond("a", "nin", ["x"]), {"a": {"$nin": [ci("^x" + END)]}}),
])
def test_case_insensitive_is_the_default(raw: dict[str, Any], query: dict[str, Any]) -> None:
    assert compile_filter(raw) == query


def test_simple_form_compiles_to_one_document() -> None:
    assert compile_filter({"name": "Ann", "age": 3}) == {
        "name": {"$regex": "^Ann" + END, "$options": "i"}, "age": {"$eq": 3}}


def test_user_text_is_escaped() -> None:
    assert compile_filter(cond("a", "contains", "a.b*(c)$")) == {
        "a": {"$regex": r"a\.b\*\(c\)\$", "$options": "i"}}
    assert compile_filter(sensitive(cond("a", "eq", "1+1"))) == {"a": {"$eq": "1+1"}}
    assert compile_filter(cond("a", "eq", "[x]")) == {
        "a": {"$regex": r"^\[x\]" + END, "$options": "i"}}


def test_escape_spells_nul_for_bson_c_strings() -> None:
    assert escape("a\x00b") == r"a\x00b"
    assert "\x00" not in compile_filter(cond("a", "contains", "\x00"))["a"]["$regex"]
    assert re.search(pattern_for("contains", "a\x00b"), "xa\x00by")


def test_anchored_patterns_do_not_match_a_trailing_newline() -> None:
    # `$` would: both PCRE and Python `re` let it match before a final newline.
    assert re.search(pattern_for("eq", "abc"), "abc")
    assert not re.search(pattern_for("eq", "abc"), "abc\n")
    assert not re.search(pattern_for("ends_with", "c"), "abc\n")
    assert re.search(pattern_for("starts_with", "a"), "abc")
    assert not re.search(pattern_for("starts_with", "b"), "abc")


def test_groups() -> None:
    raw = {"AND": [cond("a", "gt", 1), cond("b", "lt", 2)],
           "OR": [cond("c", "exists", True), cond("d", "exists", False)],
           "NOT": [cond("e", "is_null", True)]}
    assert compile_filter(raw) == {
        "a": {"$gt": 1}, "b": {"$lt": 2},
        "$or": [{"c": {"$exists": True}}, {"d": {"$exists": False}}],
        "$nor": [{"e": {"$eq": None}}],
    }


def test_and_on_one_field_uses_dollar_and() -> None:
    raw = {"AND": [cond("a", "gt", 1), cond("a", "lt", 5), cond("b", "eq", 2)]}
    assert compile_filter(raw) == {"$and": [{"a": {"$gt": 1}}, {"a": {"$lt": 5}},
                                            {"b": {"$eq": 2}}]}


def test_nested_groups_and_two_ors() -> None:
    raw = {"AND": [{"OR": [cond("a", "eq", 1), cond("b", "eq", 2)]},
                   {"OR": [cond("c", "eq", 3), {"NOT": [cond("d", "eq", 4)]}]}]}
    assert compile_filter(raw) == {"$and": [
        {"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]},
        {"$or": [{"c": {"$eq": 3}}, {"$nor": [{"d": {"$eq": 4}}]}]},
    ]}


def test_single_item_or_is_unwrapped_and_empty_groups_are_empty_queries() -> None:
    assert compile_filter({"OR": [cond("a", "eq", 1)]}) == {"a": {"$eq": 1}}
    assert compile_filter({"OR": [{}, cond("a", "eq", 1)]}) == {"$or": [{}, {"a": {"$eq": 1}}]}
    assert to_mongo(Or(())) == {}
    assert to_mongo(Not(())) == {}
    assert to_mongo(And(())) == {}


def test_hand_built_nodes() -> None:
    node = Not((Condition("a", "eq", "x", True), Condition("b", "in", (1, "Y"), False)))
    assert to_mongo(node) == {"$nor": [{"a": {"$eq": "x"}},
                                       {"b": {"$in": [1, ci("^Y" + END)]}}]}
    with pytest.raises(TypeError):
        to_mongo("nope")  # type: ignore[arg-type]


def test_resolve_maps_fields_to_stored_paths() -> None:
    def resolve(name: str) -> str:
        return f"data.{name}"

    raw = {"AND": [cond("a", "gt", 1), cond("b.c", "exists", True)]}
    assert compile_filter(raw, resolve=resolve) == {
        "data.a": {"$gt": 1}, "data.b.c": {"$exists": True}}
    assert to_mongo(parse_filter(raw), resolve) == compile_filter(raw, resolve=resolve)
    # two user fields on one stored path still combine correctly
    both = {"AND": [cond("a", "gt", 1), cond("b", "gt", 1)]}
    assert compile_filter(both, resolve=lambda name: "x") == {
        "$and": [{"x": {"$gt": 1}}, {"x": {"$gt": 1}}]}


def test_datetime_fields() -> None:
    raw = {"AND": [cond("at", "gte", "2024-01-01T00:00:00Z"),
                   cond("at", "in", ["2024-01-02", None])]}
    assert compile_filter(raw, datetime_fields=frozenset({"data.at"}),
                          resolve=lambda name: f"data.{name}") == {"$and": [
        {"data.at": {"$gte": datetime(2024, 1, 1)}},
        {"data.at": {"$in": [datetime(2024, 1, 2), None]}},
    ]}


def test_compile_filter_reports_problems_with_its_path() -> None:
    with pytest.raises(ValidationFailed) as info:
        compile_filter({"AND": [cond("a", "nope", 1)]}, path="query")
    assert info.value.details[0]["path"] == "query.AND.0.operator"


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_never_emits_code_execution_operators() -> None:
    raw = {"AND": [cond(f"f{i}", op, v) for i, (op, v) in enumerate([
        ("eq", "$where"), ("ne", "{$where: 1}"), ("contains", "$function"),
        ("regex", "$expr"), ("in", ["$accumulator"]), ("eq", "this.a == 1"),
    ])], "NOT": [cond("g", "exists", True)], "OR": [cond("h", "ends_with", "}")]}
    query = compile_filter(raw)
    assert not _keys(query) & FORBIDDEN
    assert {k for k in _keys(query) if k.startswith("$")} <= {
        "$eq", "$ne", "$regex", "$options", "$not", "$in", "$nin", "$exists", "$nor", "$or",
        "$and", "$gt", "$gte", "$lt", "$lte"}
