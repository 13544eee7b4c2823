"""js_transform v1: run the user's JavaScript `transform(doc)` on every record.

`doc` is the whole source record when `input_mapping` is empty, else the mapped inputs. It
arrives as JSON: ObjectIds and other non-JSON values as strings, datetimes as ISO-8601
strings, bytes as base64, NaN/Infinity as null.
`transform` returns an object (one document), an array of objects (N documents), or
null/false (no document). Anything else fails the record with JS_OUTPUT. One sandbox per chunk;
records cannot see each other (see shared.jsbox).
"""
from __future__ import annotations

from typing import Any

from shared.errors import ValidationFailed
from shared.extractors.base import (OUTPUT_MULTIPLE, Extractor, ExtractorRun, ExtractorSpec,
                                    RecordError)
from shared.extractors.params import is_type, json_type_of
from shared.extractors.registry import register
from shared.jsbox import JS_OUTPUT, JsError, JsLimits, Sandbox, check_syntax, validate_limits

ENTRY_POINTS = ("transform",)
FIELD_TYPES = ["string", "number", "integer", "boolean", "object", "array", "any"]


@register
class JsTransform(Extractor):
    spec = ExtractorSpec(
        name="js_transform",
        version="1",
        description=("Runs JavaScript `function transform(doc) { ... }` on each record. Return "
                     "an object for one document, an array of objects for several, null or "
                     "false for none. Built-ins are frozen and top-level state is fresh for "
                     "every record, so records cannot affect each other."),
        parameters_schema={
            "type": "object",
            "properties": {
                "code": {"type": "string", "minLength": 1,
                         "description": "JavaScript defining function transform(doc)."},
                "limits": {
                    "type": "object",
                    "description": "Per-record limits, each at most the server cap.",
                    "properties": {
                        "time_ms": {"type": "integer", "minimum": 1,
                                    "description": "CPU time per record."},
                        "memory_mb": {"type": "integer", "minimum": 1,
                                      "description": "Heap of the sandbox."},
                        "stack_kb": {"type": "integer", "minimum": 1,
                                     "description": "Native stack (recursion depth)."},
                    },
                    "additionalProperties": False,
                },
                "output_fields": {
                    "type": "object",
                    "description": "Declared output fields {name: type}; declared fields that "
                                   "are present must have that type.",
                    "additionalProperties": {"type": "string", "enum": FIELD_TYPES},
                },
            },
            "required": ["code"],
            "additionalProperties": False,
        },
        input_fields={},
        output_fields={},
        output_type=OUTPUT_MULTIPLE,
        whole_record=True,
        replaces_record=True,
    )

    def validate_parameters(self, params: Any, path: str, settings: Any) -> list[dict[str, Any]]:
        if isinstance(params, dict) and "limits" in params:
            # validate_limits gives the server-cap messages; keep its details instead of the
            # schema's for that key.
            errors = validate_limits(params["limits"], f"{path}.limits", settings)
            rest = super().validate_parameters(
                {k: v for k, v in params.items() if k != "limits"}, path, settings)
            if errors or rest:
                return errors + rest
            return self._check_code(params, path, settings)
        errors = super().validate_parameters(params, path, settings)
        return errors or self._check_code(params, path, settings)

    def _check_code(self, params: dict[str, Any], path: str, settings: Any) -> list[dict[str, Any]]:
        limits = JsLimits.capped(params.get("limits"), settings, f"{path}.limits")
        try:
            check_syntax(params["code"], ENTRY_POINTS, f"{path}.code", limits)
        except ValidationFailed as exc:
            return [dict(d, code=exc.code) for d in exc.details]
        return []

    def output_fields_for(self, params: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        declared = (params or {}).get("output_fields") or {}
        return {name: {"type": t, "description": "declared by the transform"}
                for name, t in declared.items()}

    def open(self, params: dict[str, Any], settings: Any) -> ExtractorRun:
        limits = JsLimits.capped(params.get("limits"), settings)
        return _JsRun(params["code"], limits, params.get("output_fields") or {})


class _JsRun(ExtractorRun):
    def __init__(self, code: str, limits: JsLimits, declared: dict[str, str]):
        self.declared = [(name, t) for name, t in declared.items() if t != "any"]
        self.box: Sandbox | None = None
        self.load_error: JsError | None = None
        try:
            self.box = Sandbox(code, ENTRY_POINTS, limits)
        except JsError as exc:      # every record of the chunk fails the same way
            self.load_error = exc

    def apply(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        if self.box is None:
            err = self.load_error or JsError("JS_ERROR", "the sandbox is closed")
            raise RecordError(err.code, err.message, err.line)
        try:
            result = self.box.call(inputs)
        except JsError as exc:
            raise RecordError(exc.code, exc.message, exc.line) from None
        return self._documents(result)

    def apply_many(self, inputs: list[dict[str, Any]]) -> list[list[dict[str, Any]] | RecordError]:
        if self.box is None:
            return super().apply_many(inputs)
        out: list[list[dict[str, Any]] | RecordError] = []
        for result in self.box.call_many(inputs):
            try:
                if isinstance(result, JsError):
                    raise RecordError(result.code, result.message, result.line)
                out.append(self._documents(result))
            except RecordError as exc:
                out.append(exc)
        return out

    def _documents(self, result: Any) -> list[dict[str, Any]]:
        if result is None or result is False:
            return []
        docs = result if isinstance(result, list) else [result]
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict):
                where = f"element {i} of the returned array" if isinstance(result, list) \
                    else "the returned value"
                raise RecordError(JS_OUTPUT, f"{where} is {json_type_of(doc)}; transform must "
                                             "return an object, an array of objects, or null")
            self._check_declared(doc)
        return docs

    def _check_declared(self, doc: dict[str, Any]) -> None:
        for name, type_name in self.declared:
            value = doc.get(name)
            if value is not None and not is_type(value, type_name):
                raise RecordError(JS_OUTPUT, f"output field {name!r} is {json_type_of(value)}, "
                                             f"declared {type_name}")

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None
