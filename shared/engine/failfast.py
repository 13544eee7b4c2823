"""Failing the rest of a chunk fast after a run of identical, costly failures.

A transform whose every record times out costs the full per-record limit each time (500
records x 1 s). After `threshold` consecutive records failed with the same resource-limit
error, the records left in the chunk are failed at once with that code, and a message that
says so; a record that succeeds ends the run. Cheap failures (an exception, bad output) never
trip it: they cost nothing to try, and the next record may well be fine. The rest of the
chunk is failed, not dropped, so a `failed_only` retry picks those records up again.
"""
from __future__ import annotations

from dataclasses import dataclass

COSTLY_CODES = frozenset({"JS_TIMEOUT", "JS_MEMORY", "JS_STACK"})


@dataclass
class FailureStreak:
    threshold: int              # 0 disables
    code: str | None = None
    message: str | None = None
    count: int = 0

    def record_ok(self) -> None:
        self.code, self.message, self.count = None, None, 0

    def record_failure(self, code: str, message: str) -> None:
        if code not in COSTLY_CODES:
            self.record_ok()
        elif (code, message) == (self.code, self.message):
            self.count += 1
        else:
            self.code, self.message, self.count = code, message, 1

    @property
    def tripped(self) -> bool:
        return self.threshold > 0 and self.count >= self.threshold

    def skip_message(self) -> str:
        """The message of a record failed without being run."""
        return (f"not run: the {self.count} records before it in this chunk failed the same way "
                f"({self.message}); the rest of the chunk was failed fast "
                "(SLUICE_FAIL_FAST_AFTER)")
