"""Bucket schemas: a small declared type system for object `data`.

Shape (JSON-Schema-like, so it reads familiar):
    {"properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
     "required": ["title"], "additional_properties": true}
`datetime` values arrive as ISO-8601 strings and are stored as datetimes, so range filters
and incremental runs compare real instants.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.errors import ValidationFailed
from shared.storable import name_problem
from shared.timeutil import parse_iso

TYPES = ("string", "number", "integer", "boolean", "datetime", "object", "array", "text")
_SCHEMA_KEYS = {"properties", "required", "additional_properties"}
_PROP_KEYS = {"type", "description"}


def validate_schema(schema: Any, path: str = "schema") -> list[dict]:
    """Problems with a schema declaration, each with its path (empty when valid)."""
    if schema is None:
        return []
    if not isinstance(schema, dict):
        return [{"path": path, "message": "must be an object"}]
    errs: list[dict] = []
    for key in schema:
        if key not in _SCHEMA_KEYS:
            errs.append({"path": f"{path}.{key}", "message": "unknown field"})
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        errs.append({"path": f"{path}.properties", "message": "must be an object"})
        props = {}
    for name, prop in props.items():
        ppath = f"{path}.properties.{name}"
        if (problem := name_problem(name)) is not None:
            errs.append({"path": ppath, "message": problem})
        if not isinstance(prop, dict):
            errs.append({"path": ppath, "message": "must be an object with a 'type'"})
            continue
        for key in prop:
            if key not in _PROP_KEYS:
                errs.append({"path": f"{ppath}.{key}", "message": "unknown field"})
        if prop.get("type") not in TYPES:
            errs.append({"path": f"{ppath}.type", "message": f"must be one of: {', '.join(TYPES)}"})
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        errs.append({"path": f"{path}.required", "message": "must be a list of field names"})
    else:
        for i, name in enumerate(required):
            if name not in props:
                errs.append({"path": f"{path}.required.{i}", "message": f"'{name}' is not a declared property"})
    if not isinstance(schema.get("additional_properties", True), bool):
        errs.append({"path": f"{path}.additional_properties", "message": "must be a boolean"})
    return errs


def _check_type(kind: str, value: Any) -> tuple[bool, Any]:
    if value is None:
        return True, None
    if kind in ("string", "text"):
        return isinstance(value, str), value
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool), value
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind == "boolean":
        return isinstance(value, bool), value
    if kind == "object":
        return isinstance(value, dict), value
    if kind == "array":
        return isinstance(value, list), value
    if kind == "datetime":
        if isinstance(value, datetime):
            return True, value
        if isinstance(value, str):
            try:
                return True, parse_iso(value).replace(tzinfo=None)
            except ValueError:
                return False, value
        return False, value
    return False, value


def coerce_data(schema: dict | None, data: dict, path: str = "data") -> tuple[dict, list[dict]]:
    """Check `data` against `schema`; return the stored form (datetimes parsed) and problems."""
    if not schema:
        return data, []
    props: dict = schema.get("properties", {})
    out, errs = dict(data), []
    for name in schema.get("required", []):
        if data.get(name) is None:
            errs.append({"path": f"{path}.{name}", "message": "is required"})
    for name, value in data.items():
        prop = props.get(name)
        if prop is None:
            if not schema.get("additional_properties", True):
                errs.append({"path": f"{path}.{name}", "message": "is not declared in the bucket schema"})
            continue
        ok, stored = _check_type(prop["type"], value)
        if not ok:
            errs.append({"path": f"{path}.{name}", "message": f"must be of type {prop['type']}"})
        out[name] = stored
    return out, errs


def datetime_fields(schema: dict | None, prefix: str = "data.") -> frozenset[str]:
    if not schema:
        return frozenset()
    return frozenset(prefix + n for n, p in schema.get("properties", {}).items()
                     if p.get("type") == "datetime")


def ensure_valid_schema(schema: Any, path: str = "schema") -> None:
    errs = validate_schema(schema, path)
    if errs:
        raise ValidationFailed("invalid bucket schema", details=errs)
