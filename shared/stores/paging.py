"""Cursor pagination shared by every list. The cursor is opaque to clients: base64 JSON
holding either a keyset position (value + _id of the last row) or an offset."""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from shared.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000

# Fields every stored row has; keyset pagination is exact on them.
KEYSET_FIELDS = frozenset({"created_at", "updated_at", "_id"})


@dataclass(frozen=True)
class Page:
    items: list[dict]
    next_cursor: str | None
    total: int
    limit: int


def _encode(payload: dict) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return {"$dt": o.isoformat()}
        raise TypeError(type(o).__name__)

    raw = json.dumps(payload, default=default, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw, object_hook=lambda d: datetime.fromisoformat(d["$dt"])
                             if set(d) == {"$dt"} else d)
        if not isinstance(payload, dict):
            raise ValueError
        return payload
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed.at("cursor", "is not a cursor returned by this API",
                                  code="invalid_cursor") from exc


def check_limit(limit: int | None, path: str = "limit") -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed.at(path, f"must be an integer between 1 and {MAX_LIMIT}")
    return limit


# A large count (SLOW_COUNT_ROWS or more) that took longer than SLOW_COUNT_S is reused, for
# the same query, for REUSE_SLOW_COUNT_S: a filter on a data field has no index, so its
# count reads every row of the bucket, and dashboards ask the same list again and again.
# Small or quick counts are always fresh.
SLOW_COUNT_S = 0.02
SLOW_COUNT_ROWS = 1000
REUSE_SLOW_COUNT_S = 2.0
_MAX_REMEMBERED = 512
_slow_counts: dict[tuple[str, str, str], tuple[float, int]] = {}


def counted(coll: Any, query: dict) -> int:
    """count_documents(query), reusing a slow count of the same query made moments ago."""
    key = (coll.database.name, coll.name, repr(query))
    now = time.monotonic()
    hit = _slow_counts.get(key)
    if hit is not None and now - hit[0] < REUSE_SLOW_COUNT_S:
        return hit[1]
    total = coll.count_documents(query)
    if total >= SLOW_COUNT_ROWS and time.monotonic() - now > SLOW_COUNT_S:
        if len(_slow_counts) >= _MAX_REMEMBERED:
            _slow_counts.clear()
        _slow_counts[key] = (now, total)
    return total


def sort_spec(sort_field: str = "created_at", descending: bool = True) -> list[tuple[str, int]]:
    """The sort a list runs: the field, then `_id` as the tie-break keyset pagination needs
    (so an index on (..., field, _id) serves it without an in-memory sort)."""
    direction = -1 if descending else 1
    return [(sort_field, direction), ("_id", direction)] if sort_field != "_id" else [("_id", direction)]


def paginate(coll: Any, query: dict, *, limit: int | None, cursor: str | None,
             sort_field: str = "created_at", descending: bool = True,
             render: Callable[[dict], dict] = lambda d: d,
             projection: dict | None = None) -> Page:
    limit = check_limit(limit)
    direction = -1 if descending else 1
    sort = sort_spec(sort_field, descending)
    state = _decode(cursor) if cursor else {}
    if state.get("sort") not in (None, [sort_field, direction]):
        raise ValidationFailed.at("cursor", "belongs to a list with a different sort",
                                  code="invalid_cursor")
    # Counting a filtered list reads every row the filter's index range holds, far more than
    # a page: the first page counts, and its cursor carries the total to the pages after it.
    total = state["total"] if isinstance(state.get("total"), int) else counted(coll, query)
    find_query, skip = dict(query), 0
    if sort_field in KEYSET_FIELDS and "after" in state:
        value, last_id = state["after"]
        op = "$lt" if descending else "$gt"
        if sort_field == "_id":
            keyset = {"_id": {op: last_id}}
        else:
            keyset = {"$or": [{sort_field: {op: value}}, {sort_field: value, "_id": {op: last_id}}]}
        find_query = {"$and": [query, keyset]} if query else keyset
    elif "offset" in state:
        skip = int(state["offset"])
    rows = list(coll.find(find_query, projection).sort(sort).skip(skip).limit(limit + 1))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        if sort_field in KEYSET_FIELDS:
            state = {"sort": [sort_field, direction],
                     "after": [last.get(sort_field) if sort_field != "_id" else last["_id"], last["_id"]]}
        else:
            state = {"sort": [sort_field, direction], "offset": skip + limit}
        next_cursor = _encode({**state, "total": total})
    return Page([render(r) for r in rows], next_cursor, total, limit)
