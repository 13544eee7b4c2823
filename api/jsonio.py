"""Request bodies and query parameters: strict JSON in, marshmallow validation with every
problem listed by path, never a 500 for bad input."""
from __future__ import annotations

import json
from typing import Any, Mapping

from flask import current_app, request
from marshmallow import Schema, ValidationError

from shared.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from shared.storable import Problem, storable


def flatten_errors(messages: Any, prefix: str = "") -> list[dict]:
    """marshmallow's nested error dict → [{"path": "a.0.b", "message": "..."}]."""
    out: list[dict] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(flatten_errors(value, path))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (dict, list)):
                out.extend(flatten_errors(item, prefix))
            else:
                out.append({"path": prefix, "message": str(item)})
    else:
        out.append({"path": prefix, "message": str(messages)})
    return out


def normalise_messages(details: list[dict]) -> list[dict]:
    for d in details:
        if d["message"] == "Unknown field.":
            d["message"] = "unknown field"
    return details


def raw_json(*, allow_empty: bool = False) -> Any:
    limit = current_app.config["SLUICE_SETTINGS"].max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    data = request.get_data(cache=True)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    if not data:
        if allow_empty:
            return {}
        raise BadRequest("a JSON request body is required", code="body_required")
    if not request.mimetype or request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got '{request.mimetype or 'none'}'")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}", code="malformed_json") from exc
    except RecursionError as exc:
        raise BadRequest("malformed JSON: nested too deeply", code="malformed_json") from exc
    # Every stored body passes here: MongoDB must never see a value it cannot store.
    check_storable(storable(body, names=False))
    return body


def check_storable(problem: Problem | None) -> None:
    """A storability problem as a 400 naming the field path."""
    if problem is not None:
        raise ValidationFailed(f"cannot store the request: {problem}", details=[problem.detail()])


def load(schema: Schema, data: Any = None, *, allow_empty: bool = False, partial: bool = False) -> dict:
    """Validate a request body (or `data`) with a marshmallow schema, listing every problem."""
    if data is None:
        data = raw_json(allow_empty=allow_empty)
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object",
                               details=[{"path": "", "message": "must be a JSON object"}])
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        details = normalise_messages(flatten_errors(exc.messages))
        raise ValidationFailed(f"invalid request: {len(details)} problem(s)", details=details) from exc


def query_int(name: str, default: int | None = None, *, args: Mapping[str, str] | None = None) -> int | None:
    args = request.args if args is None else args
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationFailed.at(name, "must be an integer") from exc


def query_bool(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ValidationFailed.at(name, "must be true or false")


def page_response(page: Any) -> dict:
    return {"results": page.items,
            "pagination": {"limit": page.limit, "next_cursor": page.next_cursor, "total": page.total}}
