"""Time helpers. MongoDB returns naive UTC datetimes with millisecond precision, so every
datetime we make is naive UTC too: mixing aware and naive values fails at comparison."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now as naive UTC, truncated to milliseconds so what we write equals what Mongo returns."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)
