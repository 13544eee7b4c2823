"""The one status table: every status, its groups and its allowed transitions.

Every status write goes through a conditional update whose filter is
`{"status": {"$in": allowed_from(kind, new)}}`, so a late or duplicated task can
never move a finished thing backwards.
"""
from __future__ import annotations

from enum import Enum


class BatchStatus(str, Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    PAUSED = "PAUSED"           # no new chunk starts; chunks in progress finish
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class RunStatus(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class StreamingStatus(str, Enum):
    STARTING = "STARTING"
    SNAPSHOTTING = "SNAPSHOTTING"
    STREAMING = "STREAMING"
    STOPPING = "STOPPING"
    NOT_RUNNING = "NOT_RUNNING"
    FAILED = "FAILED"


class ObjectStatus(str, Enum):
    PENDING = "PENDING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


class DeliveryStatus(str, Enum):
    """A completion-webhook delivery: waiting to be sent (or re-sent), sent, or given up."""
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


_B, _R, _S = BatchStatus, RunStatus, StreamingStatus

# kind -> new status -> statuses it may be entered from
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "batch": {
        _B.PENDING: frozenset({_B.FAILED, _B.COMPLETED, _B.COMPLETED_WITH_ERRORS, _B.CANCELED}),  # retry
        _B.PROCESSING: frozenset({_B.PENDING, _B.PROCESSING, _B.PAUSED}),   # PAUSED: resume
        _B.PAUSED: frozenset({_B.PROCESSING}),
        _B.COMPLETED: frozenset({_B.PENDING, _B.PROCESSING}),
        _B.COMPLETED_WITH_ERRORS: frozenset({_B.PENDING, _B.PROCESSING}),
        # A chunk that was running when its batch was paused may still fail it.
        _B.FAILED: frozenset({_B.PENDING, _B.PROCESSING, _B.PAUSED}),
        _B.CANCELED: frozenset({_B.PENDING, _B.PROCESSING, _B.PAUSED}),
    },
    "run": {
        _R.RUNNING: frozenset({_R.PENDING, _R.RUNNING, _R.PAUSED}),
        _R.PAUSED: frozenset({_R.RUNNING}),
        _R.COMPLETED: frozenset({_R.PENDING, _R.RUNNING}),
        _R.COMPLETED_WITH_ERRORS: frozenset({_R.PENDING, _R.RUNNING}),
        _R.FAILED: frozenset({_R.PENDING, _R.RUNNING, _R.PAUSED}),
        _R.CANCELED: frozenset({_R.PENDING, _R.RUNNING, _R.PAUSED}),
    },
    "streaming": {
        _S.STARTING: frozenset({_S.NOT_RUNNING, _S.FAILED}),
        _S.SNAPSHOTTING: frozenset({_S.STARTING}),
        _S.STREAMING: frozenset({_S.STARTING, _S.SNAPSHOTTING, _S.STREAMING}),
        _S.STOPPING: frozenset({_S.STARTING, _S.SNAPSHOTTING, _S.STREAMING}),
        _S.NOT_RUNNING: frozenset({_S.STOPPING, _S.NOT_RUNNING}),
        _S.FAILED: frozenset({_S.STARTING, _S.SNAPSHOTTING, _S.STREAMING, _S.STOPPING}),
    },
}

TERMINAL: dict[str, frozenset[str]] = {
    "batch": frozenset({_B.COMPLETED, _B.COMPLETED_WITH_ERRORS, _B.FAILED, _B.CANCELED}),
    "run": frozenset({_R.COMPLETED, _R.COMPLETED_WITH_ERRORS, _R.FAILED, _R.CANCELED}),
    "streaming": frozenset({_S.NOT_RUNNING, _S.FAILED}),
}

# Reached only at the end, once every chunk of the attempt is done (FAILED and CANCELED can
# still have chunks running): what a finished attempt's stored figures may rely on.
FINISHED_ALL: dict[str, frozenset[str]] = {
    "batch": frozenset({_B.COMPLETED, _B.COMPLETED_WITH_ERRORS}),
    "run": frozenset({_R.COMPLETED, _R.COMPLETED_WITH_ERRORS}),
}

ACTIVE: dict[str, frozenset[str]] = {
    "batch": frozenset({_B.PENDING, _B.PROCESSING, _B.PAUSED}),
    "run": frozenset({_R.PENDING, _R.RUNNING, _R.PAUSED}),
    "streaming": frozenset({_S.STARTING, _S.SNAPSHOTTING, _S.STREAMING, _S.STOPPING}),
}


def terminal(kind: str) -> list[str]:
    """The terminal statuses of `kind` as plain strings, ready for `$in`."""
    return sorted(str(getattr(s, "value", s)) for s in TERMINAL[kind])


def active(kind: str) -> list[str]:
    """The active (non-terminal) statuses of `kind` as plain strings, ready for `$in`."""
    return sorted(str(getattr(s, "value", s)) for s in ACTIVE[kind])


def allowed_from(kind: str, new: str) -> list[str]:
    """Statuses from which `kind` may move to `new` (as plain strings, ready for `$in`)."""
    try:
        return sorted(str(s.value if isinstance(s, Enum) else s) for s in TRANSITIONS[kind][new])
    except KeyError as exc:
        raise ValueError(f"no transition into {new!r} for {kind!r}") from exc


def can_transition(kind: str, old: str, new: str) -> bool:
    return old in {str(getattr(s, "value", s)) for s in TRANSITIONS[kind].get(new, ())}


def finished_all(kind: str, status: str) -> bool:
    """True when `status` means every chunk of the attempt is done (see FINISHED_ALL)."""
    return status in {s.value for s in FINISHED_ALL[kind]}


def is_terminal(kind: str, status: str) -> bool:
    return status in {s.value for s in TERMINAL[kind]}


def finished_status(kind: str, failed: int) -> str:
    """The terminal status of a run or batch that reached its end with `failed` record failures."""
    enum = BatchStatus if kind == "batch" else RunStatus
    return (enum.COMPLETED_WITH_ERRORS if failed else enum.COMPLETED).value
