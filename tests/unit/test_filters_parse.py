"""Parsing and validation of the filter language (pure: no database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shared.errors import ValidationFailed
from shared.filters import (
    OPERATORS, And, Condition, FilterLimits, Not, Or, field_names, parse_filter,
)


def cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


def problems(raw: Any, **kw: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        parse_filter(raw, **kw)
    assert info.value.code == "invalid_filter"
    assert info.value.status == 400
    return info.value.details


def paths(raw: Any, **kw: Any) -> list[str]:
    return [p["path"] for p in problems(raw, **kw)]


# -- shapes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [None, {}])
def test_no_filter(raw: Any) -> None:
    assert parse_filter(raw) is None


@pytest.mark.parametrize("raw", [[], "x", 3, [cond("a", "eq", 1)]])
def test_filter_must_be_an_object(raw: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_filter(raw, path="where")
    assert str(info.value) == "invalid filter: 1 problem"
    assert info.value.details == [{"path": "where", "message": "a filter must be an object"}]


def test_simple_form_is_an_and_of_case_insensitive_eq() -> None:
    assert parse_filter({"foo": "bar", "n": 3}) == And((
        Condition("foo", "eq", "bar", False), Condition("n", "eq", 3, False)))


def test_simple_form_with_one_key_is_the_condition() -> None:
    assert parse_filter({"a.b": None}) == Condition("a.b", "eq", None, False)


def test_simple_form_list_value_is_equality_not_membership() -> None:
    assert parse_filter({"tags": ["x", "y"]}) == Condition("tags", "eq", ("x", "y"), False)


def test_simple_form_rejects_objects_and_bad_names() -> None:
    found = problems({"a": {"$gt": 1}, "$b": 1, "c..d": 2})
    assert [p["path"] for p in found] == ["filters.a", "filters.$b", "filters.c..d"]
    assert "full form" in found[0]["message"]


def test_bare_condition_at_top_level() -> None:
    assert parse_filter(cond("a", "gt", 1)) == Condition("a", "gt", 1, False)


def test_and_items_are_flattened_or_and_not_kept() -> None:
    raw = {"AND": [cond("a", "eq", 1), cond("b", "eq", 2)],
           "OR": [cond("c", "eq", 3), cond("d", "eq", 4)],
           "NOT": [cond("e", "eq", 5)]}
    assert parse_filter(raw) == And((
        Condition("a", "eq", 1), Condition("b", "eq", 2),
        Or((Condition("c", "eq", 3), Condition("d", "eq", 4))),
        Not((Condition("e", "eq", 5),)),
    ))


def test_single_part_group_is_its_part() -> None:
    assert parse_filter({"AND": [cond("a", "eq", 1)]}) == Condition("a", "eq", 1)
    assert parse_filter({"OR": [cond("a", "eq", 1)]}) == Or((Condition("a", "eq", 1),))


def test_empty_lists() -> None:
    assert parse_filter({"AND": []}) == And(())
    assert parse_filter({"OR": [], "NOT": []}) == And(())  # empty OR / NOT are ignored
    assert parse_filter({"OR": [], "AND": [cond("a", "eq", 1)]}) == Condition("a", "eq", 1)
    assert parse_filter({"AND": [{}]}) == And(())  # an empty nested group: no constraint
    assert parse_filter({"OR": [{}, cond("a", "eq", 1)]}) == Or((And(()), Condition("a", "eq", 1)))


def test_case_sensitivity_defaults_false_and_is_inherited() -> None:
    raw = {"case_sensitive": True, "AND": [
        cond("a", "eq", "x"),
        {"OR": [cond("b", "eq", "y"), cond("b", "eq", "z")]},
        {"case_sensitive": False, "AND": [cond("c", "eq", "w")]},
    ]}
    node = parse_filter(raw)
    assert node == And((
        Condition("a", "eq", "x", True),
        Or((Condition("b", "eq", "y", True), Condition("b", "eq", "z", True))),
        Condition("c", "eq", "w", False),
    ))
    assert parse_filter({"AND": [cond("a", "eq", "x")]}) == Condition("a", "eq", "x", False)


def test_nodes_are_immutable_and_hashable() -> None:
    node = parse_filter({"AND": [cond("a", "in", [1, [2, 3]])]})
    assert node == Condition("a", "in", (1, (2, 3)))
    assert hash(node) == hash(Condition("a", "in", (1, (2, 3))))
    with pytest.raises(AttributeError):
        node.field = "b"  # type: ignore[misc]


def test_field_names() -> None:
    node = parse_filter({"AND": [cond("a", "eq", 1), {"NOT": [cond("b.c", "exists", True)]}],
                         "OR": [cond("a", "gt", 0), cond("d", "lt", 9)]})
    assert field_names(node) == {"a", "b.c", "d"}
    assert field_names(None) == set()


# -- operators and values ---------------------------------------------------------------------

@pytest.mark.parametrize("op,value,stored", [
    ("eq", "x", "x"), ("eq", 1, 1), ("eq", 1.5, 1.5), ("eq", True, True), ("eq", None, None),
    ("eq", [1, "a", None], (1, "a", None)), ("ne", [], ()),
    ("gt", 1, 1), ("gte", "a", "a"), ("lt", False, False), ("lte", -2.5, -2.5),
    ("gt", float("inf"), float("inf")),
    ("in", [1, "a", None, [1, 2]], (1, "a", None, (1, 2))), ("nin", [], ()),
    ("exists", True, True), ("exists", False, False),
    ("is_null", True, True), ("is_null", False, False),
    ("contains", "a.b", "a.b"), ("starts_with", "", ""), ("ends_with", "(", "("),
    ("regex", "^a[bc]+$", "^a[bc]+$"),
    ("regex", r"(?i:a)(?=b)\\Z{0,2}(?P<n>c)(?P=n)", r"(?i:a)(?=b)\\Z{0,2}(?P<n>c)(?P=n)"),
    ("eq", 2 ** 63 - 1, 2 ** 63 - 1), ("eq", -(2 ** 63), -(2 ** 63)),
])
def test_valid_operands(op: str, value: Any, stored: Any) -> None:
    assert parse_filter({"AND": [cond("f", op, value)]}) == Condition("f", op, stored)


@pytest.mark.parametrize("op,value,message", [
    ("eq", {"x": 1}, "must be a string, number, boolean, null or datetime; got dict"),
    ("eq", [[1]], "nested lists and objects are not supported"),
    ("eq", float("nan"), "NaN is not allowed"),
    ("eq", 2 ** 63, "integer does not fit in 64 bits"),
    ("eq", -(2 ** 63) - 1, "integer does not fit in 64 bits"),
    ("eq", b"x", "got bytes"),
    ("gt", None, "operator 'gt' needs a number, string, boolean or datetime"),
    ("lte", [1], "operator 'lte' needs a number, string, boolean or datetime"),
    ("in", 1, "operator 'in' needs a list"),
    ("nin", "abc", "operator 'nin' needs a list"),
    ("exists", 1, "operator 'exists' needs true or false"),
    ("is_null", "true", "operator 'is_null' needs true or false"),
    ("contains", 1, "operator 'contains' needs a string"),
    ("starts_with", None, "operator 'starts_with' needs a string"),
    ("ends_with", ["a"], "operator 'ends_with' needs a string"),
    ("regex", 1, "operator 'regex' needs a string"),
    ("regex", "a(b", "pattern is not a valid regular expression: missing ), unterminated"),
    ("regex", "[[a]", "pattern uses ambiguous regular-expression syntax"),
    ("regex", "a\x00", "pattern must not contain NUL characters"),
    # Python-only syntax, or syntax MongoDB's PCRE reads differently
    ("regex", r"a\Z", r"pattern uses \Z, which PCRE reads like $"),
    ("regex", r"\u0041", r"pattern uses \u, which MongoDB's regular expressions do not support"),
    ("regex", r"\N{LATIN SMALL LETTER A}", r"pattern uses \N"),
    ("regex", "(?a)x", "pattern uses the inline flags 'a'; only i, m and s are supported"),
    ("regex", "(?x) a", "pattern uses the inline flags 'x'"),
    ("regex", "a{,3}", "pattern uses {,n}, which PCRE reads literally; write {0,n}"),
])
def test_invalid_operands(op: str, value: Any, message: str) -> None:
    (found,) = problems({"AND": [cond("f", op, value)]})
    assert found["path"].startswith("filters.AND.0.value")
    assert message in found["message"]


def test_in_item_errors_point_at_the_item() -> None:
    assert paths({"AND": [cond("f", "in", [1, {"x": 1}, 2, float("nan")])]}) == [
        "filters.AND.0.value.1", "filters.AND.0.value.3"]


def test_unknown_operator_lists_the_operators() -> None:
    (found,) = problems({"AND": [cond("f", "equals", 1)]})
    assert found == {"path": "filters.AND.0.operator",
                     "message": "unknown operator 'equals'; expected one of: "
                                + ", ".join(OPERATORS)}
    assert "of type int" in problems({"AND": [cond("f", 3, 1)]})[0]["message"]


def test_bool_is_not_an_int_and_datetimes_are_normalised() -> None:
    assert parse_filter({"AND": [cond("f", "eq", True)]}).value is True  # type: ignore[union-attr]
    aware = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    node = parse_filter({"AND": [cond("f", "gt", aware)]})
    assert node == Condition("f", "gt", datetime(2024, 1, 1, 10, 0, 0, 123000))


# -- datetime fields --------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10)),
    ("2024-01-01T10:00:00", datetime(2024, 1, 1, 10)),  # naive means UTC
    ("2024-01-01T12:00:00+02:00", datetime(2024, 1, 1, 10)),
    ("2024-01-01T10:00:00.123456Z", datetime(2024, 1, 1, 10, 0, 0, 123000)),  # Mongo keeps ms
    ("2024-01-01", datetime(2024, 1, 1)),
])
def test_iso_strings_on_datetime_fields_become_datetimes(text: str, expected: datetime) -> None:
    node = parse_filter({"AND": [cond("at", "gte", text)]}, datetime_fields=frozenset({"at"}))
    assert node == Condition("at", "gte", expected)


def test_datetime_conversion_covers_eq_in_and_simple_form_but_not_text_operators() -> None:
    fields = frozenset({"at"})
    dt = datetime(2024, 1, 1)
    assert parse_filter({"at": "2024-01-01"}, datetime_fields=fields) == Condition("at", "eq", dt)
    assert parse_filter({"AND": [cond("at", "in", ["2024-01-01", None])]},
                        datetime_fields=fields) == Condition("at", "in", (dt, None))
    assert parse_filter({"AND": [cond("at", "contains", "2024")]},
                        datetime_fields=fields) == Condition("at", "contains", "2024")
    # other fields keep their strings
    assert parse_filter({"other": "2024-01-01"}, datetime_fields=fields) == \
        Condition("other", "eq", "2024-01-01")


def test_bad_iso_strings_are_reported_with_their_paths() -> None:
    found = problems({"AND": [cond("at", "in", ["2024-01-01", "yesterday", "2024-13-01"]),
                              cond("at", "eq", "soon")]},
                     datetime_fields=frozenset({"at"}))
    assert [p["path"] for p in found] == [
        "filters.AND.0.value.1", "filters.AND.0.value.2", "filters.AND.1.value"]
    assert found[0]["message"] == ("field 'at' holds datetimes; 'yesterday' is not an ISO-8601 "
                                   "datetime")


def test_datetime_fields_are_stored_paths_matched_through_resolve() -> None:
    node = parse_filter({"at": "2024-01-01"}, datetime_fields=frozenset({"data.at"}),
                        resolve=lambda name: f"data.{name}")
    assert node == Condition("at", "eq", datetime(2024, 1, 1))


# -- field names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,message", [
    ("", "must not be empty"),
    ("$where", "must not start with '$'"),
    ("a.$b", "must not start with '$'"),
    (".a", "empty segments"), ("a.", "empty segments"), ("a..b", "empty segments"),
    ("a" * 257, "at most 256 characters"),
    ("a\x00b", "NUL"),
])
def test_invalid_field_names(name: str, message: str) -> None:
    (found,) = problems({"AND": [cond(name, "eq", 1)]})
    assert found["path"] == "filters.AND.0.field"
    assert message in found["message"]


def test_valid_field_names() -> None:
    for name in ["a", "a.b.c", "a.0.b", "a$", "x" * 256, "é", "with space"]:
        assert parse_filter({"AND": [cond(name, "eq", 1)]}) == Condition(name, "eq", 1)


def test_field_name_must_be_a_string() -> None:
    assert problems({"AND": [cond(3, "eq", 1)]}) == [  # type: ignore[arg-type]
        {"path": "filters.AND.0.field", "message": "a field name must be a string"}]


# -- structure errors -------------------------------------------------------------------------

def test_unknown_and_missing_keys() -> None:
    found = problems({"AND": [{"field": "a", "operator": "eq", "value": 1, "op": "x"},
                              {"operator": "eq", "value": 1},
                              {"field": "a", "value": 1},
                              {"field": "a", "operator": "eq"}],
                      "or": []})
    assert found == [
        {"path": "filters.AND.0.op",
         "message": "unknown key 'op'; expected one of: field, operator, value"},
        {"path": "filters.AND.1.field", "message": "is required"},
        {"path": "filters.AND.2.operator", "message": "is required"},
        {"path": "filters.AND.3.value", "message": "is required for operator 'eq'"},
        {"path": "filters.or",
         "message": "unknown key 'or'; expected one of: AND, OR, NOT, case_sensitive"},
    ]


def test_group_shape_errors() -> None:
    found = problems({"AND": {"field": "a"}, "OR": [1, {"foo": 1}],
                      "NOT": [{"case_sensitive": "yes"}], "case_sensitive": None})
    assert found == [
        {"path": "filters.case_sensitive", "message": "must be true or false"},
        {"path": "filters.AND", "message": "must be a list"},
        {"path": "filters.OR.0", "message": "must be an object: a condition {field, operator, "
                                            "value} or a group {AND, OR, NOT}"},
        {"path": "filters.OR.1", "message": "expected a condition {field, operator, value} or "
                                            "a group {AND, OR, NOT}; got keys: foo"},
        {"path": "filters.NOT.0.case_sensitive", "message": "must be true or false"},
    ]


def test_every_problem_is_reported_with_a_summary() -> None:
    raw = {"AND": [cond("a", "equals", 1), cond("", "eq", 1),
                   {"OR": [cond("b", "in", 3), {"NOT": [cond("$c", "exists", "no")]}]}]}
    with pytest.raises(ValidationFailed) as info:
        parse_filter(raw)
    assert str(info.value) == "invalid filter: 5 problems"
    assert [p["path"] for p in info.value.details] == [
        "filters.AND.0.operator", "filters.AND.1.field", "filters.AND.2.OR.0.value",
        "filters.AND.2.OR.1.NOT.0.field", "filters.AND.2.OR.1.NOT.0.value"]
    assert info.value.to_dict()["code"] == "invalid_filter"


def test_single_problem_summary_and_custom_root() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_filter({"AND": [cond("a", "eq", {})]}, path="body.where")
    assert str(info.value) == "invalid filter: 1 problem"
    assert info.value.details[0]["path"] == "body.where.AND.0.value"
    assert paths({"AND": [cond("a", "eq", {})]}, path="") == ["AND.0.value"]


# -- limits -----------------------------------------------------------------------------------

def nest(levels: int) -> dict[str, Any]:
    raw: dict[str, Any] = {"AND": [cond("a", "eq", 1)]}
    for _ in range(levels - 1):
        raw = {"AND": [raw]}
    return raw


def test_depth_limit() -> None:
    assert parse_filter(nest(8)) == Condition("a", "eq", 1)
    found = problems(nest(9))
    assert found == [{"path": "filters" + ".AND.0" * 8,
                      "message": "groups are nested more than 8 levels deep"}]
    assert parse_filter(nest(9), limits=FilterLimits(max_depth=9)) is not None


def test_terms_limit_counts_conditions_and_groups() -> None:
    assert parse_filter({"AND": [cond("a", "eq", i) for i in range(200)]}) is not None
    found = problems({"AND": [cond("a", "eq", i) for i in range(201)]})
    assert found == [{"path": "filters", "message": "filter has 201 terms (conditions and "
                                                    "groups); at most 200 are allowed"}]
    assert paths({"AND": [{"AND": [cond("a", "eq", 1)]}] * 3},
                 limits=FilterLimits(max_terms=5)) == ["filters"]
    assert paths({f"f{i}": i for i in range(4)}, limits=FilterLimits(max_terms=3)) == ["filters"]


def test_string_regex_and_list_limits() -> None:
    limits = FilterLimits(max_regex_len=4, max_in_values=2, max_string_len=3)
    found = problems({"AND": [cond("a", "regex", "abcde"), cond("a", "in", [1, 2, 3]),
                              cond("a", "eq", "abcd"), cond("a", "eq", [1, 2, 3]),
                              cond("a", "contains", "abcd"), cond("a", "in", ["abcd"])]},
                     limits=limits)
    assert found == [
        {"path": "filters.AND.0.value",
         "message": "regular expression is longer than 4 characters"},
        {"path": "filters.AND.1.value",
         "message": "operator 'in' accepts at most 2 values; got 3"},
        {"path": "filters.AND.2.value", "message": "string is longer than 3 characters"},
        {"path": "filters.AND.3.value", "message": "a list value accepts at most 2 items; got 3"},
        {"path": "filters.AND.4.value", "message": "string is longer than 3 characters"},
        {"path": "filters.AND.5.value.0", "message": "string is longer than 3 characters"},
    ]
    ok = {"AND": [cond("a", "regex", "abcd"), cond("a", "in", [1, 2]), cond("a", "eq", "abc")]}
    assert parse_filter(ok, limits=limits) is not None


def test_default_limits() -> None:
    assert FilterLimits() == FilterLimits(max_depth=8, max_terms=200, max_regex_len=256,
                                          max_in_values=1000, max_string_len=4096)
    assert parse_filter({"AND": [cond("a", "in", list(range(1000)))]}) is not None
    assert paths({"AND": [cond("a", "in", list(range(1001)))]}) == ["filters.AND.0.value"]
    assert paths({"AND": [cond("a", "regex", "a" * 257)]}) == ["filters.AND.0.value"]
    assert paths({"AND": [cond("a", "eq", "a" * 4097)]}) == ["filters.AND.0.value"]
