"""Pure decisions of streaming pipelines (no I/O; `now` is always an argument)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, TypeVar

from shared.status import ACTIVE, StreamingStatus as S

T = TypeVar("T")
START, STOP = "START", "STOP"
COMMANDS = (START, STOP)
STEP_ACTIONS = {S.STARTING.value: "start", S.SNAPSHOTTING.value: "snapshot",
                S.STREAMING.value: "stream", S.STOPPING.value: "stop"}
RUNNING = frozenset({S.STARTING.value, S.SNAPSHOTTING.value, S.STREAMING.value})
STOPPED = frozenset({S.NOT_RUNNING.value, S.FAILED.value})
_ACTIVE = frozenset(str(getattr(s, "value", s)) for s in ACTIVE["streaming"])

# How a START begins (stored as run.mode): copy the source first, carry on with a snapshot a
# STOP interrupted, or follow the change stream from the saved token (or from now).
FRESH_SNAPSHOT, RESUME_SNAPSHOT, STREAM_ONLY = "snapshot", "resume_snapshot", "stream"


RESUME_CHOICES = ("snapshot", "now")
# A lag above the pipeline's threshold on this many steps in a row fires streaming.lagging.
LAG_ALERT_STEPS = 3


def parse_resume_from(value: str | None) -> tuple[str | None, datetime | None]:
    """START's `resumeFrom`: ("snapshot"|"now"|"time", the naive-UTC time or None); (None, None)
    when not given. Raises ValueError with a message for anything else."""
    if value is None:
        return None, None
    if value in RESUME_CHOICES:
        return value, None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError('must be "snapshot", "now" or an ISO 8601 timestamp') from None
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return "time", at


def lag_alert(lag: float | None, threshold: float | None, streak: int) -> tuple[int, bool]:
    """(steps in a row above the threshold now, whether streaming.lagging fires): once per
    episode, on the LAG_ALERT_STEPS-th lagging step; a step at or under it ends the episode."""
    if threshold is None or lag is None or lag <= threshold:
        return 0, False
    return streak + 1, streak + 1 == LAG_ALERT_STEPS


def step_action(status: str) -> str:
    """What a step does for a pipeline in `status`: start | snapshot | stream | stop | exit."""
    return STEP_ACTIONS.get(status, "exit")


def command_outcome(status: str, command: str) -> tuple[str, str | None]:
    """("transition", new status) | ("noop", None) | ("conflict", message)."""
    if command == START:
        if status in STOPPED:
            return "transition", S.STARTING.value
        return "conflict", (f"streaming pipeline is already running (status {status}); "
                            "STOP it and wait for NOT_RUNNING first")
    if status in RUNNING:
        return "transition", S.STOPPING.value
    return "noop", None  # STOP of a stopped or stopping pipeline is idempotent


def start_mode(snapshot_enabled: bool, has_token: bool, snapshot_in_progress: bool,
               override: bool | None) -> str:
    """`override` (the START command's `snapshot`) wins: true copies the source again, false
    streams from the saved token (or from now). Without it: an interrupted snapshot carries on,
    a saved token is resumed, and only a pipeline that never streamed snapshots (if enabled)."""
    if override is True:
        return FRESH_SNAPSHOT
    if override is False:
        return STREAM_ONLY
    if snapshot_in_progress and has_token:
        return RESUME_SNAPSHOT
    if has_token:
        return STREAM_ONLY
    return FRESH_SNAPSHOT if snapshot_enabled else STREAM_ONLY


def can_claim(doc: dict, epoch: int, chain: str, now: datetime) -> bool:
    """The rule StreamingStore.claim enforces: current epoch, an active status, and the lease is
    this chain's, nobody's, or expired."""
    if doc.get("epoch") != epoch or doc.get("status") not in _ACTIVE:
        return False
    owner, until = doc.get("lease_owner"), doc.get("lease_until")
    return owner == chain or owner is None or (until is not None and until < now)


def watchdog_action(doc: dict, now: datetime, stall_s: float) -> str | None:
    """"relaunch" (or "stop" for a STOPPING pipeline) when an active pipeline has no heartbeat
    for `stall_s` and no live lease; else None."""
    if doc.get("status") not in _ACTIVE:
        return None
    beat, until = doc.get("heartbeat_at"), doc.get("lease_until")
    if beat is not None and (now - beat).total_seconds() < stall_s:
        return None
    if until is not None and until >= now:
        return None
    return "stop" if doc["status"] == S.STOPPING.value else "relaunch"


def collapse(items: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    """The last item per key, ordered by that last occurrence: within one batch only a key's
    final change matters (its post-image is at least as new as any earlier one)."""
    latest: dict[str, T] = {}
    for item in items:
        k = key(item)
        latest.pop(k, None)
        latest[k] = item
    return latest


def read_wait_s(max_batch_wait_ms: int, lease_s: float) -> float:
    """How long a step waits for its batch to fill: the configured wait, but well inside the lease."""
    return max(0.0, min(max_batch_wait_ms / 1000.0, lease_s / 3.0))


def retry_delay(errors_in_row: int, lease_s: float) -> float:
    """Backoff before retrying a step after an infrastructure error (0.5 s doubling, capped)."""
    return min(0.5 * 2 ** max(0, errors_in_row - 1), 30.0, lease_s / 2.0)


def lag_seconds(now: datetime, newest_event: datetime | None) -> float:
    """End-to-end lag of a step: now − time of the newest event it applied; 0 when it applied none
    (the stream was drained: caught up)."""
    if newest_event is None:
        return 0.0
    return round(max(0.0, (now - newest_event).total_seconds()), 3)


def snapshot_advance(part: int, parts: int, rows: list[dict], limit: int) -> dict | None:
    """The snapshot position after reading `rows` of `part`: the next page of the same part, the
    next part, or None when every part is copied."""
    if len(rows) >= limit:
        return {"part": part, "after": rows[-1]["_id"], "started": True}
    if part + 1 < parts:
        return {"part": part + 1, "after": None, "started": False}
    return None


def chunk_id(pipeline_id: str, *parts: Any) -> str:
    """A deterministic id of one write (webhook Idempotency-Key prefix): a redone step that read
    exactly the same range gets the same id, any other range a different one."""
    digest = hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:20]
    return f"{pipeline_id}:{digest}"
