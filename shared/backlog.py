"""The age of the oldest waiting message, for autoscaling. Every task message carries the
time it was first sent in a header (a chunk put back by the scheduler keeps its first
time); the Redis transport keeps a queue as a list whose tail is delivered next, so the
oldest message is the list's last element."""
from __future__ import annotations

import json
import time
from typing import Any

SENT_HEADER = "sluice_sent"


def stamp(headers: dict | None = None, **_: Any) -> None:
    """A `before_task_publish` receiver: note when a message was first sent."""
    if headers is not None:
        headers.setdefault(SENT_HEADER, time.time())


def message_age(raw: bytes | str | None, now: float) -> float:
    """Seconds since the kombu/Redis message `raw` was first sent; 0 for none or unstamped."""
    if not raw:
        return 0.0
    try:
        sent = (json.loads(raw).get("headers") or {}).get(SENT_HEADER)
    except (ValueError, AttributeError):
        return 0.0
    return round(max(0.0, now - float(sent)), 3) if isinstance(sent, (int, float)) else 0.0
