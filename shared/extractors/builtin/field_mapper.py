"""field_mapper v1: select, default, cast and rename top-level fields of a record.

Order of operations (all keys name *source* fields; renaming comes last):
  1. select   – keep only these fields (all fields when omitted);
  2. defaults – fill fields that are missing or null;
  3. cast     – convert to string / number / integer / boolean (null stays null);
  4. rename   – {from: to}; a renamed field replaces an existing field of the new name.
A value that cannot be cast fails the record with CAST_ERROR.
"""
from __future__ import annotations

import json
import math
from typing import Any

from shared.errors import UserError
from shared.extractors.base import (OUTPUT_SINGLE, Extractor, ExtractorRun, ExtractorSpec,
                                    RecordError)
from shared.extractors.registry import register

CAST_TYPES = ["string", "number", "integer", "boolean"]
_TRUE = {"true", "yes", "y", "on", "1", "t"}
_FALSE = {"false", "no", "n", "off", "0", "f"}
_FIELD = {"type": "string", "minLength": 1}


class CastError(UserError, ValueError):
    pass


def cast_value(value: Any, to: str) -> Any:
    if value is None:
        return None
    if to == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        return str(value)
    if to in ("number", "integer"):
        num = _to_number(value)
        if to == "integer":
            if isinstance(num, float):
                if not num.is_integer():
                    raise CastError(f"{value!r} is not a whole number")
                num = int(num)
        return num
    if to == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise CastError(f"{value!r} is not a boolean (true/false, yes/no, on/off, 1/0)")
    raise CastError(f"unknown type {to!r}")


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise CastError(f"{value!r} is not a finite number")
        return value
    if isinstance(value, str):
        text = value.strip()
        if "_" in text:                          # Python would accept 1_000
            raise CastError(f"{value!r} is not a number")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            num = float(text)
        except ValueError:
            raise CastError(f"{value!r} is not a number") from None
        if not math.isfinite(num):
            raise CastError(f"{value!r} is not a finite number")
        return num
    raise CastError(f"a {type(value).__name__} cannot be converted to a number")


@register
class FieldMapper(Extractor):
    spec = ExtractorSpec(
        name="field_mapper",
        version="1",
        description=("Keeps, fills, converts and renames top-level fields of the record: "
                     "select, then defaults, then cast, then rename (all keyed by source "
                     "names). A value that cannot be cast fails the record (CAST_ERROR)."),
        parameters_schema={
            "type": "object",
            "properties": {
                "select": {"type": "array", "items": _FIELD, "uniqueItems": True,
                           "description": "Fields to keep; all fields when omitted."},
                "rename": {"type": "object", "additionalProperties": _FIELD,
                           "description": "{source field: new name}."},
                "cast": {"type": "object",
                         "additionalProperties": {"type": "string", "enum": CAST_TYPES},
                         "description": "{source field: string|number|integer|boolean}."},
                "defaults": {"type": "object",
                             "description": "{source field: value} for missing or null fields."},
            },
            "additionalProperties": False,
        },
        input_fields={},
        output_fields={},
        output_type=OUTPUT_SINGLE,
        whole_record=True,
        replaces_record=True,
    )

    def check(self, params: dict[str, Any], path: str, settings: Any) -> list[dict[str, Any]]:
        errors = []
        select = params.get("select")
        rename = params.get("rename") or {}
        targets: dict[str, str] = {}
        for src, dst in rename.items():
            if dst in targets:
                errors.append({"path": f"{path}.rename.{src}",
                               "message": f"{src!r} and {targets[dst]!r} are both renamed to {dst!r}"})
            targets[dst] = src
            if select is not None and src not in select:
                errors.append({"path": f"{path}.rename.{src}",
                               "message": f"{src!r} is not in select"})
        if select is not None:
            kept = set(select) - set(rename)
            for dst, src in targets.items():
                if dst in kept:
                    errors.append({"path": f"{path}.rename.{src}",
                                   "message": f"{dst!r} is also a selected field"})
        return errors

    def output_fields_for(self, params: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        p = params or {}
        rename, cast = p.get("rename") or {}, p.get("cast") or {}
        names = list(p.get("select") or []) or list(dict.fromkeys([*cast, *(p.get("defaults") or {})]))
        return {rename.get(n, n): {"type": cast.get(n, "any"), "description": f"from {n!r}"}
                for n in names}

    def open(self, params: dict[str, Any], settings: Any) -> ExtractorRun:
        return _MapperRun(self.normalise(params))


class _MapperRun(ExtractorRun):
    def __init__(self, params: dict[str, Any]):
        self.select = params.get("select")
        self.rename = params.get("rename") or {}
        self.cast = params.get("cast") or {}
        self.defaults = params.get("defaults") or {}

    def apply(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(inputs, dict):
            raise RecordError("INVALID_INPUT", "the record must be an object")
        if self.select is not None:
            doc = {k: inputs[k] for k in self.select if k in inputs}
        else:
            doc = dict(inputs)
        for name, value in self.defaults.items():
            if doc.get(name) is None and (self.select is None or name in self.select):
                doc[name] = value
        for name, to in self.cast.items():
            if name in doc:
                try:
                    doc[name] = cast_value(doc[name], to)
                except CastError as exc:
                    raise RecordError("CAST_ERROR", f"field {name!r}: {exc}") from None
        if self.rename:   # a renamed field replaces an existing field of the new name
            out = {k: v for k, v in doc.items() if k not in self.rename}
            for src, dst in self.rename.items():
                if src in doc:
                    out[dst] = doc[src]
            doc = out
        return [doc]
