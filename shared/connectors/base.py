"""What the pipeline run engine reads from (Source) and writes to (Destination).

A Source turns a pipeline's filters and incremental cursor into a query, splits it into
`_id` ranges (lo <= _id < hi; hi None = open end) and fetches a range as raw rows; `record()`
is the JSON-able view user JavaScript sees. Boundary values are JSON-safe: pass them back to
`fetch_range` exactly as `boundaries` returned them. `update_time` answers naive UTC
datetimes (shared.timeutil's convention); `query` accepts naive-UTC or aware cursors.

A Destination writes (key, record) items idempotently by key and returns {key: error} for
the items that failed; infrastructure errors (the target unreachable) raise instead.
"""
from __future__ import annotations

import base64
from datetime import date, datetime, timezone
from typing import Any, Callable

from shared.timeutil import iso, parse_iso


def jsonable(value: Any) -> Any:
    """A JSON-able copy: datetimes → ISO strings, ObjectId/Decimal128/UUID → str,
    bytes → base64, tuples → lists."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return str(value)


def get_path(row: dict, path: str) -> Any:
    cur: Any = row
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def as_utc(value: Any) -> datetime | None:
    """A stored update time (naive UTC datetime, aware datetime or ISO string) as a naive UTC
    datetime — the convention of shared.timeutil and of what MongoDB returns."""
    if isinstance(value, str):
        try:
            value = parse_iso(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)
    return None


def and_query(parts: list[dict]) -> dict:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


class Source:
    kind: str = ""
    default_update_time_field = "updated_at"

    def field_resolver(self) -> Callable[[str], str]:
        return lambda field: field

    def base_query(self) -> dict:
        return {}

    def query(self, filters_mongo: dict | None, updated_after: datetime | None,
              update_time_field: str | None) -> dict:
        parts = [self.base_query(), filters_mongo or {}]
        if updated_after is not None:
            path = self.field_resolver()(update_time_field or self.default_update_time_field)
            parts.append({path: {"$gt": updated_after}})
        return and_query(parts)

    def boundaries(self, query: dict, size: int) -> tuple[list[tuple[Any, Any | None]], int]:
        raise NotImplementedError

    def fetch_range(self, query: dict, lo: Any, hi: Any | None) -> list[dict]:
        raise NotImplementedError

    def bound(self, row: dict) -> Any:
        """The `_id` bound (as `boundaries` gives them) at which a range can be split before `row`."""
        return row["_id"]

    def record(self, row: dict) -> dict:
        return jsonable(row)

    def key(self, row: dict) -> str:
        return str(row["_id"])

    def update_time(self, row: dict, update_time_field: str | None) -> datetime | None:
        path = self.field_resolver()(update_time_field or self.default_update_time_field)
        return as_utc(get_path(row, path))

    def close(self) -> None:
        pass

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Destination:
    kind: str = ""

    def write(self, items: list[tuple[str, dict]], context: dict) -> dict[str, str]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Destination":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
