"""Validate everything, then answer once: a request body's schema problems, the problems of the
filters inside it, and query-string paging of POST …/list routes, in one 400.

    body, query = load_all(ListRequestSchema(), paging=True,
                           check=lambda b: compile_filter(b.get("filters"), path="filters", ...))
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from flask import request
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from api.jsonio import flatten_errors, normalise_messages, raw_json
from shared.errors import ValidationFailed
from shared.filters import parse_filter

PAGING = ("limit", "cursor")


def with_query_paging(data: Any, problems: list[dict]) -> Any:
    """`?limit=` and `?cursor=` of a POST …/list route, as if they were in the body (a caller
    asking for `?limit=2` must not silently get 50); the same field given differently in both
    places is a problem, not a guess."""
    if not isinstance(data, dict):
        return data
    merged = dict(data)
    for name in PAGING:
        raw = request.args.get(name)
        if raw is None:
            continue
        if name in data and str(data[name]) != raw:
            problems.append({"path": name, "message": f"given differently in the body ({data[name]!r}) and the "
                                                      f"query string ({raw!r}); send it once"})
        merged.setdefault(name, raw)
    return merged


def _at(raw: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(raw, dict):
            return None
        raw = raw.get(part)
    return raw


def load_all(schema: Schema, data: Any = None, *, allow_empty: bool = False, paging: bool = False,
             check: Callable[[dict], Any] | None = None, filters_at: Iterable[str] = ()) -> tuple[dict, Any]:
    """(body, check's result). `check` runs on the body even when the schema refused part of it
    (on what did validate) and may raise ValidationFailed. `filters_at` names filters in the raw
    body that are parsed only when the schema refused the body: otherwise the route's use-case
    checks them with everything else, and reports them once."""
    if data is None:
        data = raw_json(allow_empty=allow_empty)
    problems: list[dict] = []
    if paging:
        data = with_query_paging(data, problems)
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object",
                               details=[{"path": "", "message": "must be a JSON object"}])
    try:
        body = schema.load(data)
    except SchemaError as exc:
        problems += normalise_messages(flatten_errors(exc.messages))
        body = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        for path in filters_at:
            value = _at(data, path)
            if isinstance(value, dict) and value:
                try:
                    parse_filter(value, path)
                except ValidationFailed as bad:
                    problems += bad.details
    result = None
    if check is not None:
        try:
            result = check(body)
        except ValidationFailed as exc:
            problems += exc.details or [{"path": "", "message": exc.message}]
    if problems:
        raise ValidationFailed(f"invalid request: {len(problems)} problem(s)", details=problems)
    return body, result
