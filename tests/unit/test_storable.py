"""The one field-name rule and the storability check every write path runs."""
from __future__ import annotations

import datetime as dt

import bson
import pytest

from shared.storable import (INVALID_RECORD, MAX_DEPTH, RECORD_TOO_LARGE, name_problem,
                             storable)


@pytest.mark.parametrize("name", ["a", "sku", "with space", "ünïcode", "a-b_c", "0"])
def test_good_names(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name,fragment", [
    ("", "empty"), ("a\x00b", "NUL"), ("$where", "'$'"), ("a.b", "'.'"), ("\ud800", "surrogate"),
    (1, "strings"),
])
def test_bad_names(name, fragment):
    assert fragment in name_problem(name)


def test_plain_json_and_bson_values_are_storable():
    value = {"s": "x\x00y", "i": 2 ** 63 - 1, "n": -(2 ** 63), "f": 1.5, "b": True, "z": None,
             "l": [1, {"k": [2, 3]}], "t": (1, 2), "d": dt.datetime(2024, 1, 1), "o": bson.ObjectId(),
             "bin": b"\x00\x01", "i64": bson.Int64(5), "dec": bson.Decimal128("1.5")}
    assert storable(value, "data") is None


@pytest.mark.parametrize("value,path,fragment", [
    ({"a\x00b": 1}, "data.a\x00b", "NUL"),
    ({"ok": {"deep": {"$x": 1}}}, "data.ok.deep.$x", "'$'"),
    ({"ok": [{"a.b": 1}]}, "data.ok.0.a.b", "'.'"),
    ({"big": 19297523213210910457856}, "data.big", "64 bits"),
    ({"neg": -(2 ** 63) - 1}, "data.neg", "64 bits"),
    ({"f": float("nan")}, "data.f", "NaN"),
    ({"f": [float("inf")]}, "data.f.0", "infinite"),
    ({"s": "\udc00"}, "data.s", "surrogate"),
    ({"set": {1, 2}}, "data.set", "set"),
    ({"date": dt.date(2024, 1, 1)}, "data.date", "date"),
])
def test_first_problem_is_named_with_its_path(value, path, fragment):
    problem = storable(value, "data")
    assert problem is not None and problem.path == path and fragment in problem.message
    assert problem.code == INVALID_RECORD
    assert problem.detail() == {"path": path, "message": problem.message}


def test_config_bodies_may_use_dotted_and_empty_names_but_not_nul_or_dollar():
    assert storable({"filters": {"a.b": 1}, "": 2}, names=False) is None
    assert storable({"x": {"a\x00": 1}}, names=False).path == "x.a\x00"
    assert storable({"x": {"$gt": 1}}, names=False).path == "x.$gt"
    assert storable({"x": 2 ** 70}, names=False).path == "x"


def test_depth_is_bounded_without_recursion():
    deep: dict = {}
    cur = deep
    for _ in range(5000):           # deeper than Python's recursion limit
        cur["a"] = {}
        cur = cur["a"]
    problem = storable(deep, "data")
    assert problem is not None and f"{MAX_DEPTH} levels" in problem.message
    ok: dict = {}
    cur = ok
    for _ in range(MAX_DEPTH - 1):
        cur["a"] = {}
        cur = cur["a"]
    assert storable(ok) is None


def test_size_is_bounded():
    problem = storable({"big": "x" * 2000}, "rec", max_bytes=1000)
    assert problem is not None and problem.code == RECORD_TOO_LARGE and problem.path == "rec"
    assert storable({"big": "x" * 500}, max_bytes=1000) is None


def test_subclasses_of_scalars_are_checked_as_their_value():
    import enum

    class Big(int):
        pass

    class Colour(str, enum.Enum):
        RED = "red"

    assert storable({"c": Colour.RED, "i": Big(3)}) is None
    assert storable({"i": Big(2 ** 64)}).path == "i"


# -- the quick walk never vouches for what the full walk refuses --------------------------------
from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from shared.storable import _first_problem  # noqa: E402

_keys = st.one_of(st.text(max_size=4), st.sampled_from(["", "$x", "a.b", "n\x00", "\ud800", "é"]), st.integers(0, 3))
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(),
                    st.text(max_size=6), st.sampled_from(["\ud800x", "ok"]), st.binary(max_size=3),
                    st.builds(set), st.tuples(st.integers()))
_values = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                       max_leaves=20)


@hsettings(max_examples=500, deadline=None)
@given(_values, st.booleans(), st.integers(1, 6), st.integers(10, 400))
def test_storable_gives_what_the_full_walk_gives(value, names, depth, size):
    assert storable(value, "data", names=names, max_depth=depth, max_bytes=size) == \
        _first_problem(value, "data", names, depth, size)
