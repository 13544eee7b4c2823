"""Which statuses end a batch, task, run or streaming pipeline.

A copy of the server's table (shared/status.py), because this package ships without the
server; tests/unit/test_sdk.py checks that the two agree."""
from __future__ import annotations

# Batches (and the tasks that are their public face) and runs end in the same four statuses.
TERMINAL: dict[str, frozenset[str]] = {
    "batch": frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"}),
    "run": frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"}),
    "streaming": frozenset({"NOT_RUNNING", "FAILED"}),
}
TERMINAL["task"] = TERMINAL["batch"]
SUCCESS = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS"})
FAILURE = frozenset({"FAILED", "CANCELED"})


def is_terminal(status: str, kind: str = "batch") -> bool:
    """True once `status` can no longer change for a `kind` (batch, task, run, streaming)."""
    return status in TERMINAL[kind]
