"""What every console page needs: the signed-in principal, the namespace of the URL (404
when the key may not see it, exactly like the JSON API), small formatting filters."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g

from api.auth import principal
from api.context import stores
from shared.errors import NotFound
from shared.timeutil import iso, utcnow

STATUS_CLASS = {"COMPLETED": "ok", "STREAMING": "ok", "SNAPSHOTTING": "run", "PROCESSING": "run",
                "RUNNING": "run", "PENDING": "wait", "STARTING": "wait", "STOPPING": "wait",
                "COMPLETED_WITH_ERRORS": "warn", "FAILED": "bad", "CANCELED": "muted", "NOT_RUNNING": "muted"}


def namespace(ref: str) -> dict:
    """The namespace named in the URL. Out of the key's scope it is 'not found', so the page
    says nothing about what exists in namespaces the key may not see."""
    ns = stores().namespaces.find(ref)
    if ns is None or not principal().may_use(ns["_id"]):
        raise NotFound(f"there is no namespace '{ref}' for this key", code="namespace_not_found")
    g.namespace = ns   # what api.auth.namespace_id() reads, so shared helpers see the same scope
    return ns


def visible_namespaces(limit: int = 200) -> list[dict]:
    scope = principal().namespaces
    page = stores().namespaces.list(ids=None if scope is None else sorted(scope), limit=limit, cursor=None)
    return sorted(page.items, key=lambda n: n["namespace_name"])


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """'3 min ago' / 'in 5 min' for a naive-UTC datetime."""
    if value is None:
        return "—"
    seconds = ((now or utcnow()) - value.replace(tzinfo=None)).total_seconds()
    future, s = seconds < 0, abs(seconds)
    text = (f"{int(s)} s" if s < 90 else f"{int(s // 60)} min" if s < 5400 else
            f"{s / 3600:.1f} h" if s < 86400 * 2 else f"{int(s // 86400)} d")
    return f"in {text}" if future else f"{text} ago"


def duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s" if ms < 120_000 else f"{ms / 60000:.1f} min"


def filters() -> dict[str, Any]:
    return {"ago": ago, "iso": iso, "duration": duration,
            "status_class": lambda s: STATUS_CLASS.get(str(s), "muted")}
