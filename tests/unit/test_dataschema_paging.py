from datetime import datetime

import pytest

from shared.dataschema import coerce_data, datetime_fields, validate_schema
from shared.errors import ValidationFailed
from shared.stores.objects import resolve_object_field, unique_hash
from shared.stores.paging import _decode, _encode, check_limit


def test_schema_declaration_errors_carry_paths():
    errs = validate_schema({"properties": {"a": {"type": "blob"}, "b": "x"}, "required": ["c"], "x": 1})
    assert {e["path"] for e in errs} == {"schema.properties.a.type", "schema.properties.b",
                                         "schema.required.0", "schema.x"}
    assert validate_schema({"properties": {"a": {"type": "string"}}, "required": ["a"]}) == []


def test_coerce_data_types_and_datetimes():
    schema = {"properties": {"n": {"type": "integer"}, "t": {"type": "datetime"}, "b": {"type": "boolean"}},
              "required": ["n"], "additional_properties": False}
    data, errs = coerce_data(schema, {"n": 2.0, "t": "2024-05-01T00:00:00Z", "b": True})
    assert errs == [] and data["n"] == 2 and data["t"] == datetime(2024, 5, 1)
    _, errs = coerce_data(schema, {"n": True, "t": "soon", "extra": 1})
    assert {e["path"] for e in errs} == {"data.n", "data.t", "data.extra"}
    assert datetime_fields(schema) == frozenset({"data.t"})


def test_unique_hash_is_stable_and_requires_fields():
    uk = {"fields": ["sku", "loc.city"]}
    h1 = unique_hash(uk, {"sku": "a", "loc": {"city": "x"}, "other": 1})
    h2 = unique_hash(uk, {"loc": {"city": "x"}, "sku": "a"})
    assert h1 == h2 and h1 != unique_hash(uk, {"sku": "b", "loc": {"city": "x"}})
    assert unique_hash(None, {"sku": "a"}) is None
    with pytest.raises(ValidationFailed) as exc:
        unique_hash(uk, {"sku": "a"})
    assert exc.value.details[0]["path"] == "data.loc.city"


def test_field_resolution_for_objects():
    assert resolve_object_field("object_id") == "_id"
    assert resolve_object_field("status") == "status"
    assert resolve_object_field("title") == "data.title"
    assert resolve_object_field("metadata.src") == "metadata.src"


def test_cursor_round_trip_and_limits():
    state = {"sort": ["created_at", -1], "after": [datetime(2024, 1, 1, 12), "obj_1"]}
    assert _decode(_encode(state)) == state
    with pytest.raises(ValidationFailed):
        _decode("%%%")
    assert check_limit(None) == 50
    with pytest.raises(ValidationFailed):
        check_limit(0)
