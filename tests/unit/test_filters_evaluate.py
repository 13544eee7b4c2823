"""The Python evaluator (pure). Every expectation here mirrors what mongod 6.0 answers; the
property test in tests/integration checks the evaluator against a real server."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from shared.filters import And, Condition, Not, Or, matches, parse_filter
from shared.filters.evaluate import MISSING, elements


def cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


def check(raw: dict[str, Any], record: dict[str, Any], **kw: Any) -> bool:
    return matches(parse_filter(raw, **kw), record)


def cs(*items: dict[str, Any]) -> dict[str, Any]:
    return {"AND": list(items), "case_sensitive": True}


def test_no_filter_matches_everything() -> None:
    assert matches(None, {})
    assert check({"AND": []}, {"a": 1})
    assert matches(Or(()), {}) and matches(Not(()), {}) and matches(And(()), {})


# -- paths ------------------------------------------------------------------------------------

@pytest.mark.parametrize("record,path,expected", [
    ({"a": 1}, "a", [1]),
    ({}, "a", [MISSING]),
    ({"a": {"b": 2}}, "a.b", [2]),
    ({"a": {"b": 2}}, "a", [{"b": 2}]),
    ({"a": 5}, "a.b", [MISSING]),                    # through a scalar: missing
    ({"a": None}, "a.b", [MISSING]),
    ({"a": [1, 2]}, "a", [1, 2, [1, 2]]),            # elements, then the whole array
    ({"a": []}, "a", [[]]),
    ({"a": [[1, 2]]}, "a", [[1, 2], [[1, 2]]]),      # nested arrays are not flattened
    ({"a": [1, 2]}, "a.b", []),                      # scalars in arrays yield nothing
    ({"a": [{"b": 1}, {"c": 2}]}, "a.b", [1, MISSING]),
    ({"a": [{"b": [1, 2]}]}, "a.b", [1, 2, [1, 2]]),
    ({"a": [[{"b": 1}]]}, "a.b", []),
    ({"a": [7, 8]}, "a.1", [8]),                     # numeric segment: array index
    ({"a": {"1": 8}}, "a.1", [8]),                   # ... or a field name
    ({"a": [{"1": 5}, 8]}, "a.1", [5, 8]),           # ... or both at once
    ({"a": [[1, 2]]}, "a.0", [[1, 2]]),              # indexed element is not traversed
    ({"a": [[1, 2]]}, "a.0.1", [2]),
    ({"a": [{"b": 1}]}, "a.0.b", [MISSING, 1]),
    ({"a": [[{"b": 1}]]}, "a.0.b", [1]),
    ({"a": [1]}, "a.00", []),                        # "00" is not index 0
])
def test_elements(record: dict[str, Any], path: str, expected: list[Any]) -> None:
    assert list(elements(record, path.split("."))) == expected


# -- equality ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value,record,expected", [
    (1, {"a": 1}, True), (1, {"a": 1.0}, True), (1.0, {"a": 1}, True),
    (1, {"a": True}, False), (True, {"a": 1}, False), (0, {"a": False}, False),
    (1, {"a": "1"}, False), ("1", {"a": 1}, False),
    (1, {"a": [3, 1]}, True), (1, {"a": [[1]]}, False),
    ([1, 2], {"a": [1, 2]}, True), ([1, 2], {"a": [2, 1]}, False),
    ([1, 2], {"a": [[1, 2], 3]}, True), ([], {"a": []}, True), ([], {"a": [[]]}, True),
    ([1], {"a": 1}, False),
    (None, {"a": None}, True), (None, {}, True), (None, {"a": [None]}, True),
    (None, {"a": []}, False), (None, {"a": [1]}, False), (None, {"a": 0}, False),
    (1, {"a": Decimal("1.0")}, True), (1, {"a": float("nan")}, False),
    (2 ** 53 + 1, {"a": float(2 ** 53)}, False),    # exact int/float comparison
    (-0.0, {"a": 0}, True),
])
def test_eq(value: Any, record: dict[str, Any], expected: bool) -> None:
    assert check(cs(cond("a", "eq", value)), record) is expected
    assert check(cs(cond("a", "ne", value)), record) is not expected


def test_embedded_documents_compare_in_field_order() -> None:
    node = Condition("a", "eq", {"x": 1, "y": 2}, True)  # only hand-built nodes hold objects
    assert matches(node, {"a": {"x": 1, "y": 2.0}})
    assert not matches(node, {"a": {"y": 2, "x": 1}})
    assert not matches(node, {"a": {"x": 1}})


def test_ne_and_nin_match_missing_and_negate_over_arrays() -> None:
    assert check(cond("a", "ne", 1), {})
    assert not check(cond("a", "ne", 1), {"a": [1, 2]})
    assert check(cond("a", "ne", 3), {"a": [1, 2]})
    assert check(cond("a", "nin", [1]), {})
    assert not check(cond("a", "nin", [5, 2]), {"a": [1, 2]})
    assert check(cond("a", "nin", []), {"a": 1})
    assert not check(cond("a", "in", []), {"a": 1})


def test_in() -> None:
    assert check(cond("a", "in", [1, "x"]), {"a": 1.0})
    assert check(cond("a", "in", [None]), {})
    assert check(cond("a", "in", [[1, 2]]), {"a": [1, 2]})
    assert not check(cond("a", "in", [1]), {"a": True})


# -- ranges -----------------------------------------------------------------------------------

@pytest.mark.parametrize("op,value,record,expected", [
    ("gt", 1, {"a": 2}, True), ("gt", 1, {"a": 1}, False), ("gte", 1, {"a": 1.0}, True),
    ("lt", 1, {"a": 0.5}, True), ("lte", 1, {"a": 2}, False),
    ("gt", 1, {"a": "2"}, False), ("lt", "z", {"a": 1}, False),  # brackets never mix
    ("gt", 0, {"a": True}, False), ("gte", False, {"a": True}, True),
    ("lt", True, {"a": False}, True), ("gt", 0, {"a": None}, False), ("lt", 5, {}, False),
    ("gt", "B", {"a": "a"}, True), ("lt", "B", {"a": "a"}, False),  # code points, no folding
    ("gt", "é", {"a": "z"}, False),
    ("gt", 1, {"a": [0, 5]}, True), ("gt", 1, {"a": [[5]]}, False),
    ("lt", float("inf"), {"a": float("nan")}, False),
    ("gte", float("-inf"), {"a": float("nan")}, False),
    ("lt", 2, {"a": Decimal("1.5")}, True),
    ("gt", datetime(2024, 1, 1), {"a": datetime(2024, 1, 2)}, True),
    ("gt", datetime(2024, 1, 1), {"a": "2024-01-02"}, False),
])
def test_ranges(op: str, value: Any, record: dict[str, Any], expected: bool) -> None:
    assert check(cond("a", op, value), record) is expected


def test_datetimes_aware_and_naive_agree() -> None:
    aware = datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert check(cond("a", "eq", datetime(2024, 1, 1)), {"a": aware})
    assert check(cond("a", "eq", aware), {"a": datetime(2024, 1, 1)})
    # sub-millisecond precision is what MongoDB would drop on insert
    assert check(cond("a", "eq", datetime(2024, 1, 1)), {"a": datetime(2024, 1, 1, 0, 0, 0, 999)})
    assert check({"AND": [cond("at", "lt", "2024-01-01T03:00:00+02:00")]},
                 {"at": datetime(2024, 1, 1)}, datetime_fields=frozenset({"at"}))


# -- existence and null -----------------------------------------------------------------------

@pytest.mark.parametrize("record,exists,null", [
    ({"a": 1}, True, False), ({"a": None}, True, True), ({}, False, True),
    ({"a": []}, True, False), ({"a": [None]}, True, True),
])
def test_exists_and_is_null(record: dict[str, Any], exists: bool, null: bool) -> None:
    assert check(cond("a", "exists", True), record) is exists
    assert check(cond("a", "exists", False), record) is not exists
    assert check(cond("a", "is_null", True), record) is null
    assert check(cond("a", "is_null", False), record) is not null


def test_exists_and_null_through_arrays() -> None:
    assert check(cond("a.b", "is_null", True), {"a": [{"c": 1}]})  # a sub-document lacks b
    assert not check(cond("a.b", "is_null", True), {"a": [1, 2]})  # nothing to look at
    assert check(cond("a.b", "exists", False), {"a": [1, 2]})
    assert check(cond("a.b", "exists", True), {"a": [1, {"b": None}]})


# -- strings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op,value,text,sensitive,insensitive", [
    ("eq", "abc", "abc", True, True),
    ("eq", "abc", "ABC", False, True),
    ("eq", "abc", "abc\n", False, False),
    ("eq", "é", "É", False, True),
    ("contains", "b.", "abc", False, False),
    ("contains", "b.", "aB.c", False, True),
    ("contains", "", "", True, True),
    ("starts_with", "ab", "abc", True, True),
    ("starts_with", "AB", "abc", False, True),
    ("starts_with", "b", "abc", False, False),
    ("ends_with", "bc", "abc", True, True),
    ("ends_with", "c", "abc\n", False, False),
    ("ends_with", "*", "a*", True, True),
    ("regex", "^a.c$", "abc", True, True),
    ("regex", "^a.c$", "ABC", False, True),
    ("regex", "b", "xbx", True, True),
    ("regex", "c$", "abc\n", True, True),  # a user's `$` keeps its PCRE meaning
])
def test_string_operators(op: str, value: str, text: str, sensitive: bool,
                          insensitive: bool) -> None:
    assert check(cs(cond("a", op, value)), {"a": text}) is sensitive
    assert check(cond("a", op, value), {"a": text}) is insensitive


def test_string_operators_only_match_strings() -> None:
    for op in ("contains", "starts_with", "ends_with", "regex"):
        assert not check(cond("a", op, "1"), {"a": 1})
        assert not check(cond("a", op, ""), {"a": None})
        assert not check(cond("a", op, ""), {})
        assert check(cond("a", op, "1"), {"a": [2, "1"]})


def test_case_insensitive_ne_in_nin() -> None:
    assert not check(cond("a", "ne", "abc"), {"a": "ABC"})
    assert check(cs(cond("a", "ne", "abc")), {"a": "ABC"})
    assert check(cond("a", "in", ["x", "abc"]), {"a": ["ABC"]})
    assert not check(cond("a", "nin", ["x", "abc"]), {"a": "Abc"})
    assert check(cond("a", "in", [["X"]]), {"a": ["X"]})
    assert not check(cond("a", "in", [["X"]]), {"a": ["x"]})  # nested lists compare exactly


def test_case_sensitivity_applies_per_group() -> None:
    raw = {"case_sensitive": True, "AND": [cond("a", "eq", "X")],
           "OR": [{"case_sensitive": False, "AND": [cond("b", "eq", "y")]}]}
    assert check(raw, {"a": "X", "b": "Y"})
    assert not check(raw, {"a": "x", "b": "Y"})


# -- groups and resolution --------------------------------------------------------------------

def test_groups() -> None:
    raw = {"AND": [cond("a", "gt", 0)],
           "OR": [cond("b", "eq", 1), cond("c", "eq", 1)],
           "NOT": [cond("d", "exists", True), cond("e", "eq", 1)]}
    assert check(raw, {"a": 1, "b": 1})
    assert check(raw, {"a": 1, "c": 1, "e": 2})
    assert not check(raw, {"a": 0, "b": 1})
    assert not check(raw, {"a": 1})
    assert not check(raw, {"a": 1, "b": 1, "d": None})
    assert not check(raw, {"a": 1, "b": 1, "e": 1})
    assert check({"OR": [], "NOT": []}, {})


def test_simple_form() -> None:
    assert check({"name": "ann", "n": 3}, {"name": "Ann", "n": 3.0})
    assert not check({"name": "ann", "n": 3}, {"name": "Ann"})


def test_resolve() -> None:
    node = parse_filter({"name": "x"})
    record = {"data": {"name": "x"}, "name": "y"}
    assert matches(node, record, resolve=lambda name: f"data.{name}")
    assert not matches(node, {"name": "y"}, resolve=lambda name: f"data.{name}")
    assert not matches(node, record)


def test_unusual_stored_types_never_equal_filter_values() -> None:
    class ObjectId:  # stands in for bson.ObjectId without importing pymongo
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    assert not check(cs(cond("a", "eq", "x")), {"a": ObjectId()})
    assert not check(cond("a", "gt", 1), {"a": ObjectId()})
    assert not check(cs(cond("a", "eq", "x")), {"a": b"x"})


def test_hand_built_node_errors() -> None:
    with pytest.raises(TypeError):
        matches("nope", {})  # type: ignore[arg-type]
