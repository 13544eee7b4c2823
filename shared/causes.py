"""Why a record failed, in three words a user can act on: `user_code` (their JavaScript or
extractor configuration: fix the code), `data` (the record itself: fix the input), or
`infrastructure` (a store, the broker, a worker or a time limit: retry, nothing to fix).

One pure function over the error code (and, when there is one, the exception), so every
failure record — batches, pipeline runs, dead letters — is classified the same way, and old
records stored before the field existed are classified on read."""
from __future__ import annotations

from shared.retry import TRANSIENT_ERRORS

USER_CODE, DATA, INFRASTRUCTURE = "user_code", "data", "infrastructure"
CAUSES = (USER_CODE, DATA, INFRASTRUCTURE)

# Codes a worker writes when it gives up on a chunk for reasons outside the records.
STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
TASK_TIME_LIMIT = "TASK_TIME_LIMIT"
WORKER_LOST = "WORKER_LOST"
INFRA_CODES = frozenset({STORE_UNAVAILABLE, TASK_TIME_LIMIT, WORKER_LOST, "BROKER_UNAVAILABLE",
                         "service_unavailable"})
# The record's own content: a missing or mistyped input, a value MongoDB cannot store, a row
# the destination refused.
DATA_CODES = frozenset({"MISSING_INPUT", "INVALID_INPUT", "CAST_ERROR", "INVALID_RECORD",
                        "RECORD_TOO_LARGE", "WRITE_FAILED"})


def cause_of(code: str | None, exc: BaseException | None = None) -> str:
    """The cause of a failure with error `code` (raised as `exc`, if known). Anything not known
    to be data or infrastructure is the user's code: JS_* errors, bad output, extractor errors."""
    if exc is not None and isinstance(exc, TRANSIENT_ERRORS):
        return INFRASTRUCTURE
    if code in INFRA_CODES:
        return INFRASTRUCTURE
    if code in DATA_CODES:
        return DATA
    return USER_CODE


def with_cause(row: dict) -> dict:
    """A stored failure row with its `cause`, classifying rows written before it was stored."""
    return row if row.get("cause") else {**row, "cause": cause_of(row.get("code"))}
