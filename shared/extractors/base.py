"""The extractor interface the batch engine calls.

Lifecycle, per chunk of records:

    ext = get_extractor("text_splitter")            # registry
    errors = ext.validate_parameters(params, "feature_extractors.0.parameters", settings)
    with ext.open(params, settings) as run:         # once per chunk
        for record in chunk:
            inputs = resolve_inputs(ext.spec, record, input_mapping)
            try:
                docs = run.apply(inputs)             # list of dicts keyed by output field names
            except RecordError as exc:
                ...                                  # exc.code, exc.message, exc.line

Inputs: the engine maps extractor input names to source field paths (`input_mapping`, default:
the same name). An extractor with `spec.whole_record` (it declares no input fields:
js_transform, field_mapper, content_hash) receives the whole source record when the mapping is
empty, otherwise exactly the mapped inputs. `resolve_inputs` implements this rule.

Outputs: with `spec.replaces_record` (js_transform, field_mapper) the returned documents *are*
the new record; otherwise (all others, including content_hash, which reads the whole record
but only adds two fields) the outputs are added to the record. Do not infer this from
`input_fields` being empty.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.extractors import params as schema_check
from shared.errors import UserError

OUTPUT_SINGLE = "single"      # 1 record -> exactly 1 document
OUTPUT_MULTIPLE = "multiple"  # 1 record -> 0..N documents


class RecordError(UserError):
    """One record could not be processed; the rest of the chunk goes on."""

    def __init__(self, code: str, message: str, line: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "line": self.line}


@dataclass(frozen=True)
class ExtractorSpec:
    name: str
    version: str
    description: str
    parameters_schema: dict[str, Any]     # {"type": "object", "properties": {...}, "required": [...]}
    input_fields: dict[str, dict[str, Any]]   # name -> {"type", "required", "description"}
    output_fields: dict[str, dict[str, Any]]  # name -> {"type", "description"}
    output_type: str = OUTPUT_SINGLE          # "single" | "multiple"
    whole_record: bool = field(default=False)      # declares no inputs: gets the whole record
    replaces_record: bool = field(default=False)   # outputs replace the record (else: added)

    def __post_init__(self) -> None:
        if self.output_type not in (OUTPUT_SINGLE, OUTPUT_MULTIPLE):
            raise ValueError(f"output_type must be single or multiple, not {self.output_type!r}")
        if self.replaces_record and not self.whole_record:
            raise ValueError("only a whole-record extractor can replace the record")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "parameters_schema": self.parameters_schema,
            "input_fields": self.input_fields,
            "output_fields": self.output_fields,
            "output_type": self.output_type,
            "whole_record": self.whole_record,
            "replaces_record": self.replaces_record,
        }


class ExtractorRun:
    """The per-chunk state of an extractor. Subclasses implement `apply`."""

    def __enter__(self) -> "ExtractorRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def apply(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def apply_many(self, inputs: list[dict[str, Any]]) -> list[list[dict[str, Any]] | RecordError]:
        """`apply` on each inputs in turn, the RecordError in place of each that failed.
        Extractors that cross a boundary per call (js_transform) override it to cross once
        for many records; each record's outcome stays what `apply` gives it."""
        out: list[list[dict[str, Any]] | RecordError] = []
        for one in inputs:
            try:
                out.append(self.apply(one))
            except RecordError as exc:
                out.append(exc)
        return out

    def close(self) -> None:
        """Release per-chunk resources (idempotent)."""


class Extractor:
    """Base class: declare `spec`, implement `open`; override `check`/`output_fields_for`."""

    spec: ExtractorSpec

    def validate_parameters(self, params: Any, path: str, settings: Any) -> list[dict[str, Any]]:
        """Error details [{"path", "message", ...}], [] when valid. Unknown params are errors."""
        if params is None:
            params = {}
        errors = schema_check.check(params, self.spec.parameters_schema, path)
        if errors:
            return errors
        return self.check(self.normalise(params), path, settings)

    def check(self, params: dict[str, Any], path: str, settings: Any) -> list[dict[str, Any]]:
        """Checks beyond the schema (cross-field rules, code compilation). `params` has defaults."""
        return []

    def normalise(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Parameters with schema defaults filled in."""
        return schema_check.with_defaults(params, self.spec.parameters_schema)

    def output_fields_for(self, params: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        return dict(self.spec.output_fields)

    def open(self, params: dict[str, Any], settings: Any) -> ExtractorRun:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.name} v{self.spec.version}>"


# -- inputs ----------------------------------------------------------------------------------
_MISSING = object()


def get_path(record: Any, path: str) -> Any:
    """Value at a dotted path (`a.b.0.c`; digits index lists); _MISSING when absent."""
    cur = record
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return _MISSING
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def text_input(inputs: dict[str, Any], name: str = "text") -> str:
    """The string input `name` of a text extractor, or the RecordError a record gets when it
    is missing or not a string."""
    value = inputs.get(name)
    if value is None:
        raise RecordError("MISSING_INPUT", f"input {name!r} is missing")
    if not isinstance(value, str):
        raise RecordError("INVALID_INPUT", f"input {name!r} must be a string, not {type(value).__name__}")
    return value


def resolve_inputs(spec: ExtractorSpec, record: dict[str, Any],
                   input_mapping: dict[str, str] | None = None) -> dict[str, Any]:
    """The `inputs` dict for `ExtractorRun.apply`.

    Declared inputs: each input name reads the source path `input_mapping.get(name, name)`;
    a missing required input raises RecordError("MISSING_INPUT"), a missing optional one is
    left out. Whole-record extractors: the record itself when the mapping is empty, else
    {name: value at path} for each mapped name."""
    mapping = input_mapping or {}
    if spec.whole_record and not spec.input_fields:
        if not mapping:
            return record
        out = {}
        for name, src in mapping.items():
            value = get_path(record, src)
            if value is not _MISSING:
                out[name] = value
        return out
    out = {}
    for name, decl in spec.input_fields.items():
        src = mapping.get(name, name)
        value = get_path(record, src)
        if value is _MISSING or value is None:
            if decl.get("required"):
                raise RecordError("MISSING_INPUT", f"input {name!r} (source field {src!r}) is missing")
            continue
        out[name] = value
    return out


def validate_input_mapping(spec: ExtractorSpec, mapping: Any, path: str) -> list[dict[str, Any]]:
    """Error details for an `input_mapping` {input name: source path}."""
    if mapping is None:
        return []
    if not isinstance(mapping, dict):
        return [{"path": path, "message": "must be an object {input name: source field path}"}]
    errors = []
    for name, src in mapping.items():
        if not spec.whole_record and name not in spec.input_fields:
            errors.append({"path": f"{path}.{name}", "message": "unknown input; allowed: "
                           + (", ".join(spec.input_fields) or "none")})
        if not isinstance(src, str) or not src or any(p == "" for p in src.split(".")):
            errors.append({"path": f"{path}.{name}", "message": "must be a field path like a.b.c"})
    return errors
