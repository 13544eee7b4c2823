"""A small checker for the JSON-Schema subset the extractors declare for their parameters.

Supported keywords: type (object, array, string, integer, number, boolean, null, or a list),
enum, minimum, maximum, exclusiveMinimum, minLength, minItems, maxItems, uniqueItems, items,
properties, required, additionalProperties (bool or schema), default, description.
Everything an extractor declares is therefore also valid JSON Schema for the OpenAPI document.
"""
from __future__ import annotations

import copy
from typing import Any

_TYPE_NAMES = {
    "object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "a boolean", "null": "null",
}


def is_type(value: Any, type_name: str) -> bool:
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "null":
        return value is None
    if type_name == "any":
        return True
    raise ValueError(f"unknown schema type {type_name!r}")


def json_type_of(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if is_type(value, name):
            return name
    return type(value).__name__


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def check(value: Any, schema: dict[str, Any], path: str, *,
          unknown: str = "unknown parameter") -> list[dict[str, Any]]:
    """Error details ({"path", "message"}) for `value` against `schema`; [] when valid.

    `unknown` words the message for a property that `additionalProperties: false` refuses at
    this level (nested objects say "unknown field")."""
    errors: list[dict[str, Any]] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(is_type(value, t) for t in names):
            wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in names)
            return [{"path": path, "message": f"must be {wanted}"}]
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) if not isinstance(v, str) else v for v in schema["enum"])
        errors.append({"path": path, "message": f"must be one of: {allowed}"})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append({"path": path, "message": f"must be at least {schema['minimum']}"})
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append({"path": path,
                           "message": f"must be greater than {schema['exclusiveMinimum']}"})
        if "maximum" in schema and value > schema["maximum"]:
            errors.append({"path": path, "message": f"must be at most {schema['maximum']}"})
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        errors.append({"path": path, "message": "must not be empty" if schema["minLength"] == 1
                       else f"must be at least {schema['minLength']} characters long"})
    if isinstance(value, list):
        errors.extend(_check_array(value, schema, path))
    if isinstance(value, dict):
        errors.extend(_check_object(value, schema, path, unknown))
    return errors


def _check_array(value: list, schema: dict[str, Any], path: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if len(value) < schema.get("minItems", 0):
        errors.append({"path": path, "message": "must not be empty" if schema["minItems"] == 1
                       else f"must have at least {schema['minItems']} items"})
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append({"path": path, "message": f"must have at most {schema['maxItems']} items"})
    if "items" in schema:
        for i, item in enumerate(value):
            errors.extend(check(item, schema["items"], _join(path, i), unknown="unknown field"))
    if schema.get("uniqueItems") and not errors:
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                errors.append({"path": _join(path, i), "message": f"duplicate item {item!r}"})
            seen.append(item)
    return errors


def _check_object(value: dict, schema: dict[str, Any], path: str,
                  unknown: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    props: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            errors.append({"path": _join(path, name), "message": "is required"})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            errors.extend(check(item, props[key], _join(path, key), unknown="unknown field"))
        elif extra is False:
            known = ", ".join(props) or "none"
            errors.append({"path": _join(path, key), "message": f"{unknown}; allowed: {known}"})
        elif isinstance(extra, dict):
            errors.extend(check(item, extra, _join(path, key), unknown="unknown field"))
    return errors


def with_defaults(params: dict[str, Any] | None, schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `params` with every top-level `default` of the schema filled in."""
    out = dict(params or {})
    for name, prop in schema.get("properties", {}).items():
        if name not in out and "default" in prop:
            out[name] = copy.deepcopy(prop["default"])
    return out
